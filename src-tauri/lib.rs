//! Stepup Desktop: dynamic step-up authentication on the desktop, as a Tauri 2 app.
//!
//! Before a sensitive action, another app opens
//! `com.stepup.desktop://step-up?scope=wallet:export&requester=Acme` and this app asks the
//! signed-in user to prove it is them; the elevated access token it earns goes to the OS
//! keychain. A link only ever opens the dialog: approving takes a code the user types.
//!
//! # Layout
//! - [`deep_link`]: hostile input → a validated [`deep_link::StepUpRequest`], or why not.
//! - [`cli`]: the command line (`--sandbox`, link arguments).
//! - [`requests`]: links waiting for the UI, requests open in the dialog, recent step-ups.
//! - [`state`]: the backend (client, keychain, sandbox) starting in the background.
//! - [`sandbox`]: `--sandbox`: the embedded local authority and its outbox.
//! - [`commands`]: the Tauri commands, thin wrappers over `stepup-client`.
//! - [`error`]: `{code, message}` at the IPC boundary.
//!
//! ## Platform-specific
//! - **Linux, Windows**: a link arrives as a program argument. A second process started by the
//!   launcher forwards its arguments to the running instance (single-instance, over D-Bus on
//!   Linux: without a session bus it turns itself off and a second window opens).
//! - **macOS**: links arrive as Apple events through the deep-link plugin.

pub mod cli;
pub mod commands;
pub mod deep_link;
pub mod error;
pub mod requests;
pub mod sandbox;
pub mod state;

use requests::Delivery;
use state::{AppState, Backend};
use tauri::{AppHandle, Emitter, Manager, Runtime};

/// The label of the one window.
pub const MAIN_WINDOW: &str = "main";

/// Files a raw deep link on the desk (validated at once) and hands it to the UI when it is
/// ready; brings the window forward. Nothing else: a link never approves.
pub fn receive_link<R: Runtime>(app: &AppHandle<R>, raw: &str) {
    let state = app.state::<AppState>();
    let delivery = state.desk().receive_link(raw, &state.allow_list);
    let at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    match delivery {
        Delivery::Now(event) => {
            eprintln!(
                "STEPUP deep link received at_ms={at_ms} kind={}",
                kind_of(&event)
            );
            if let Err(error) = app.emit_to(MAIN_WINDOW, "deep-link", &event) {
                eprintln!("STEPUP could not hand a link to the window: {error}");
            }
        }
        Delivery::Queued => {
            eprintln!("STEPUP deep link queued until the UI is ready at_ms={at_ms}")
        }
    }
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

fn kind_of(event: &requests::LinkEvent) -> &'static str {
    match event {
        requests::LinkEvent::Request { .. } => "request",
        requests::LinkEvent::Invalid { .. } => "invalid",
    }
}

/// Registers the state and the commands; shared by [`run`] and the mock-runtime tests.
pub fn setup_builder<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder
        .manage(state)
        .invoke_handler(tauri::generate_handler![
            commands::app_status,
            commands::ui_ready,
            commands::sign_in_send_email_otp,
            commands::sign_in_verify_email_otp,
            commands::check_step_up,
            commands::begin_step_up,
            commands::send_email_otp,
            commands::verify_email_otp,
            commands::send_sms_otp,
            commands::verify_sms_otp,
            commands::verify_totp,
            commands::verify_recovery_code,
            commands::verify_passkey,
            commands::mfa_devices,
            commands::add_device_passkey,
            commands::export_private_key,
            commands::verify_export_again,
            commands::cancel_step_up,
            commands::token_status,
            commands::step_up_history,
            commands::logout,
            commands::sandbox_outbox,
            commands::sandbox_open_link,
            commands::sandbox_sign_in,
        ])
}

/// Starts the app.
pub fn run() {
    let launch = cli::LaunchOptions::from_env();
    for flag in &launch.unknown_flags {
        eprintln!("stepup-desktop: ignoring unknown option {flag}");
    }
    let builder = tauri::Builder::default()
        // First: a second process must forward its link and exit before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            let forwarded = cli::LaunchOptions::parse(argv.into_iter().skip(1));
            for link in &forwarded.links {
                receive_link(app, link);
            }
            if forwarded.links.is_empty() {
                if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
                    let _ = window.unminimize();
                    let _ = window.set_focus();
                }
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_clipboard_manager::init());
    let result = setup_builder(builder, AppState::new(launch.clone()))
        .setup(move |app| {
            register_scheme(app);
            // Links this process was started with (a cold start) wait on the desk for the UI.
            for link in &launch.links {
                receive_link(app.handle(), link);
            }
            let handle = app.handle().clone();
            let launch = launch.clone();
            tauri::async_runtime::spawn(async move {
                let backend = Backend::start(&launch).await;
                handle.state::<AppState>().set_backend(backend);
            });
            Ok(())
        })
        .run(tauri::generate_context!());
    if let Err(error) = result {
        eprintln!("stepup-desktop: {error}");
        std::process::exit(1);
    }
}

/// Makes the OS send `com.stepup.desktop://` links to this binary (Linux: a `.desktop` handler
/// and `xdg-mime`; macOS: Apple events). A failure only costs deep links, so it is logged.
fn register_scheme(app: &tauri::App) {
    use tauri_plugin_deep_link::DeepLinkExt;
    #[cfg(any(target_os = "linux", all(debug_assertions, windows)))]
    if let Err(error) = app.deep_link().register_all() {
        eprintln!("STEPUP could not register the link scheme: {error}");
    }
    #[cfg(target_os = "macos")]
    {
        let handle = app.handle().clone();
        app.deep_link().on_open_url(move |event| {
            for url in event.urls() {
                receive_link(&handle, url.as_str());
            }
        });
    }
    let _ = app;
}
