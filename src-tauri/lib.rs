//! Stepup Desktop: dynamic step-up authentication on the desktop, as a Tauri 2 app.
//!
//! Before a sensitive action, another app opens
//! `com.stepup.desktop://step-up?scope=wallet:export&requester=Acme` and this app asks the
//! signed-in user to prove it is them; the elevated access token it earns goes to the OS
//! keychain. A link only ever opens the dialog: approving takes a code the user types.
//!
//! The rules (deep links, the request lifecycle, the export grant, the views and words) live
//! in `stepup-requests`, which has no Tauri in it; this crate is the glue to the window.
//!
//! # Layout
//! - [`cli`]: the command line (`--sandbox`, link arguments).
//! - [`environment`]: what configures a real Dynamic environment (environment variables over
//!   [`settings`], the file the first-run setup writes).
//! - [`state`]: the backend (client, keychain, sandbox) starting in the background, and the
//!   request desk links land on.
//! - [`notify`] (Linux): the desktop notification of a request that arrived while the user
//!   was in another app; a click on it is what brings the window forward.
//! - [`resident`]: the app outlives its window (webview destroyed, links make it again, Quit
//!   ends it); [`tray`] (Linux): its StatusNotifierItem with Open and Quit.
//! - [`sandbox`]: `--sandbox`: the embedded local authority and its outbox.
//! - [`commands`]: the Tauri commands, one line each into `stepup-requests`, by area
//!   (`app`, `sign_in`, `step_up`, `export`, `passkeys`, `sandbox`); `commands/list.rs` is
//!   the one list the handler, the permissions and the capabilities follow from.
//!
//! ## Platform-specific
//! - **Linux, Windows**: a link arrives as a program argument. A second process started by the
//!   launcher forwards its arguments to the running instance (single-instance, over D-Bus on
//!   Linux: without a session bus it turns itself off and a second window opens).
//! - **macOS**: links arrive as Apple events through the deep-link plugin.

pub mod cli;
pub mod commands;
pub mod environment;
#[cfg(target_os = "linux")]
pub mod notify;
pub mod resident;
pub mod sandbox;
pub mod settings;
pub mod state;
#[cfg(target_os = "linux")]
pub mod tray;

#[cfg(all(test, feature = "test"))]
mod ipc_tests;

use state::{AppState, Backend};
use stepup_requests::views::LinkEvent;
use stepup_requests::wording::notification_text;
use stepup_requests::Delivery;
use tauri::{AppHandle, Emitter, Manager, Runtime};

/// The label of the one window.
pub const MAIN_WINDOW: &str = "main";

/// Files a raw deep link on the desk (validated at once) and hands it to the UI when it is
/// ready; the window is made for it if the app was resident without one, and the user's
/// attention drawn to it (never the focus). Nothing else: a link never approves.
///
/// A social sign-in's redirect on the app's scheme (`com.stepup.desktop://oauth-callback?…`,
/// where no loopback port could be opened) is no request: it goes only to the sign-in of the
/// request shown that waits for it; with none waiting it is refused, and the window says why.
pub fn receive_link<R: Runtime>(app: &AppHandle<R>, raw: &str) {
    let state = app.state::<AppState>();
    let at_ms = commands::now_ms();
    if stepup_requests::link::SocialCallbackLink::is_callback(raw) {
        receive_social_callback(app, raw, at_ms);
        return;
    }
    let (delivery, notification) = {
        let mut desk = state.desk.lock();
        let delivery = desk.receive_link(raw, &state.allow_list(), at_ms);
        let notification = match &delivery {
            Delivery::Now(event) => notification_text(event),
            Delivery::Queued => desk.newest_waiting().and_then(notification_text),
        };
        (delivery, notification)
    };
    match delivery {
        Delivery::Now(event) => {
            let kind = match &event {
                LinkEvent::Request { .. } => "request",
                LinkEvent::Invalid { .. } => "invalid",
            };
            tracing::info!(at_ms, kind, "deep link received");
            hand_to_window(app, &event);
        }
        Delivery::Queued => tracing::info!(at_ms, "deep link queued until the UI is ready"),
    }
    resident::present_request(app, notification);
}

/// A social sign-in's answer on the app's scheme, to the sign-in waiting for it; refused, the
/// window says why.
fn receive_social_callback<R: Runtime>(app: &AppHandle<R>, raw: &str, at_ms: i64) {
    let state = app.state::<AppState>();
    match stepup_requests::flow::receive_social_callback(&state.desk, raw) {
        // The user comes back from the browser to the dialog that shows the outcome.
        Ok(()) => resident::bring_forward(app),
        Err(error) => {
            tracing::warn!(at_ms, code = error.code(), "social sign-in answer refused");
            hand_to_window(
                app,
                &LinkEvent::Invalid {
                    reason: stepup_requests::wording::sentence(&error.to_string()),
                },
            );
        }
    }
}

/// Sends a link's event to the window (nothing listens when there is none).
fn hand_to_window<R: Runtime>(app: &AppHandle<R>, event: &LinkEvent) {
    if let Err(error) = app.emit_to(MAIN_WINDOW, "deep-link", event) {
        tracing::error!(%error, "could not hand a link to the window");
    }
}

/// Registers the state and the commands; shared by [`run`] and the mock-runtime tests.
pub fn setup_builder<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder.manage(state).invoke_handler(commands::handler())
}

/// Starts the app.
pub fn run() {
    init_logging();
    let launch = cli::LaunchOptions::from_env();
    for flag in &launch.unknown_flags {
        tracing::warn!(flag = %flag, "ignoring an unknown option");
    }
    let builder = tauri::Builder::default()
        // First: a second process must forward its link and exit before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            let forwarded = cli::LaunchOptions::parse(argv.into_iter().skip(1));
            for link in &forwarded.links {
                receive_link(app, link);
            }
            // A launch without a link (the app menu): the user wants the window. A second
            // `--background` start (a session's autostart) changes nothing.
            if forwarded.links.is_empty() && !forwarded.background {
                resident::bring_forward(app);
            }
        }))
        .plugin(tauri_plugin_deep_link::init());
    #[cfg(not(target_os = "linux"))]
    let builder = builder.plugin(tauri_plugin_clipboard_manager::init());
    let result = setup_builder(builder, AppState::new(launch.clone()))
        .setup(move |app| {
            if launch.sandbox && cfg!(feature = "sandbox") {
                // The sandbox commands are granted only in sandbox mode.
                app.add_capability(commands::sandbox_capability())?;
            }
            register_scheme(app);
            // The window (tauri.conf.json's `main`, `create: false`): at once, focused, for a
            // plain start; for a cold start by a link, made for the link without the focus;
            // none with `--background`.
            if launch.links.is_empty() && !launch.background {
                resident::main_window(app.handle(), true);
            }
            // Links this process was started with (a cold start) wait on the desk for the UI.
            for link in &launch.links {
                receive_link(app.handle(), link);
            }
            #[cfg(target_os = "linux")]
            tray::start(app.handle());
            let handle = app.handle().clone();
            let launch = launch.clone();
            tauri::async_runtime::spawn(async move {
                let backend = Backend::start(&launch).await;
                handle.state::<AppState>().set_backend(backend);
            });
            Ok(())
        })
        .build(tauri::generate_context!())
        .map(|app| app.run(resident::on_run_event));
    if let Err(error) = result {
        tracing::error!(%error, "the app could not run");
        std::process::exit(1);
    }
}

/// Logs go to stderr through `tracing` (`RUST_LOG` filters them; `info` by default). The
/// embedded sandbox's own events stay at `warn`: the outbox panel shows its codes, the log
/// has no need of them.
fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,stepup_sandbox=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Makes the OS send `com.stepup.desktop://` links to this binary (Linux: a `.desktop` handler
/// and `xdg-mime`; macOS: Apple events). A failure only costs deep links, so it is logged.
///
/// On Linux an app installed by its package (`/usr/bin/stepup-desktop`, with the package's
/// desktop entry) registers nothing: the package's entry is the handler, and a per-user entry
/// written here would outlive an uninstall.
fn register_scheme(app: &tauri::App) {
    use tauri_plugin_deep_link::DeepLinkExt;
    #[cfg(target_os = "linux")]
    if installed_by_package() {
        tracing::info!("installed by its package: the package's desktop entry handles links");
        return;
    }
    #[cfg(any(target_os = "linux", all(debug_assertions, windows)))]
    if let Err(error) = app.deep_link().register_all() {
        tracing::warn!(%error, "could not register the link scheme");
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

/// Where the package installs the binary and its desktop entry (`cargo xtask package`).
#[cfg(target_os = "linux")]
const PACKAGED_BINARY: &str = "/usr/bin/stepup-desktop";
#[cfg(target_os = "linux")]
const PACKAGED_ENTRY: &str = "/usr/share/applications/stepup-desktop.desktop";

/// True when this process is the binary the package installed, next to its desktop entry.
#[cfg(target_os = "linux")]
fn installed_by_package() -> bool {
    let packaged = std::path::Path::new(PACKAGED_BINARY);
    std::env::current_exe().is_ok_and(|exe| exe == packaged)
        && std::path::Path::new(PACKAGED_ENTRY).is_file()
}
