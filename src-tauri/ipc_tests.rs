//! The IPC boundary under Tauri's mock runtime (`cargo test -p stepup-desktop --features test`),
//! with the app's real context (tauri.conf.json and the capabilities built from the command
//! list): an ungranted command is refused, the sandbox commands are granted only once the
//! sandbox capability is added, and errors cross as `{code, message}`.

use crate::cli::LaunchOptions;
use crate::state::{AppState, Backend};
use serde_json::{json, Value};
use stepup_requests::AppError;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{Manager, WebviewWindow};

fn request(cmd: &str, body: Value) -> InvokeRequest {
    InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        // The local origin: anything else counts as remote and is refused outright.
        url: "tauri://localhost".parse().expect("url"),
        body: InvokeBody::Json(body),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    }
}

/// The app with a backend that has no environment (nothing reaches a network).
fn app() -> (
    tauri::App<tauri::test::MockRuntime>,
    WebviewWindow<tauri::test::MockRuntime>,
) {
    let state = AppState::new(LaunchOptions::default());
    state.set_backend(Backend {
        environment_id: String::new(),
        api_base_url: String::new(),
        client: Err(AppError::NotConfigured(
            "no environment in this test".into(),
        )),
        sandbox: None,
        startup_error: None,
        passkey: Err(AppError::NotConfigured(
            "no environment in this test".into(),
        )),
        device_passkey: None,
        keychain_notices: Vec::new(),
    });
    let app = crate::setup_builder(mock_builder(), state)
        .build(tauri::generate_context!())
        .expect("app");
    let window = tauri::WebviewWindowBuilder::new(&app, crate::MAIN_WINDOW, Default::default())
        .build()
        .expect("window");
    (app, window)
}

fn call(
    window: &WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    body: Value,
) -> Result<Value, Value> {
    get_ipc_response(window, request(cmd, body)).map(|b| b.deserialize::<Value>().expect("json"))
}

#[test]
fn a_granted_command_answers_and_errors_are_code_and_message() {
    let (_app, window) = app();
    let status = call(&window, "app_status", json!({})).expect("granted");
    assert_eq!(status["startupError"]["code"], "not_configured");
    assert_eq!(status["sandbox"], false);

    let error = call(&window, "cancel_step_up", json!({ "requestId": 7 })).expect_err("no request");
    assert_eq!(
        error,
        json!({
            "code": "request_not_found",
            "message": "this request is no longer open: ask the app that sent it for a new one",
        })
    );
    let error = call(&window, "begin_step_up", json!({ "requestId": 7 })).expect_err("no client");
    assert_eq!(error["code"], "not_configured");
    assert_eq!(error.as_object().map(|o| o.len()), Some(2), "{error}");
}

#[test]
fn commands_the_ui_is_not_granted_are_refused() {
    let (_app, window) = app();
    // Not in the list at all (the UI never calls it), and the sandbox's without --sandbox.
    for cmd in [
        "check_step_up",
        "sandbox_outbox",
        "sandbox_open_link",
        "sandbox_sign_in",
    ] {
        let refused = call(
            &window,
            cmd,
            json!({ "scope": "wallet:export", "link": "x", "persona": "mfa" }),
        );
        let message = refused.expect_err(cmd).to_string();
        assert!(
            message.contains("not allowed") || message.contains("not found"),
            "{cmd}: {message}"
        );
    }
}

#[test]
fn the_sandbox_capability_grants_the_sandbox_commands() {
    let (app, window) = app();
    assert!(call(&window, "sandbox_outbox", json!({})).is_err());
    app.add_capability(crate::commands::sandbox_capability())
        .expect("capability");
    // Granted now: the command runs, and says this backend is not a sandbox.
    let error = call(&window, "sandbox_outbox", json!({})).expect_err("no sandbox");
    assert_eq!(error["code"], "not_sandbox");
}
