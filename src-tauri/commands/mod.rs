//! The Tauri commands: one-line calls into `stepup-requests` (the rules) and `stepup-client`
//! (the protocol), grouped by what the user does. Each is `#[tracing::instrument(skip_all)]`;
//! errors cross the IPC boundary as `{code, message}` ([`AppError`]).
//!
//! The step-up commands name a request (`request_id`), not a scope: the scope is the one the
//! validated deep link asked for and the dialog showed, so what the user sees is what they
//! approve.
//!
//! The list of commands is [`list.rs`](list.rs): the handler, the permissions and the
//! capabilities all follow from it.

pub mod app;
pub mod export;
pub mod passkeys;
pub mod sandbox;
pub mod setup;
pub mod sign_in;
pub mod step_up;

include!("list.rs");

pub use stepup_requests::AppError;

/// What a command answers.
pub type CommandResult<T> = Result<T, AppError>;

macro_rules! sandbox_command_names {
    (ui: [$($um:ident :: $uc:ident),* $(,)?], sandbox: [$($sm:ident :: $sc:ident),* $(,)?]) => {
        &[$(stringify!($sc)),*]
    };
}

macro_rules! ui_command_names {
    (ui: [$($um:ident :: $uc:ident),* $(,)?], sandbox: [$($sm:ident :: $sc:ident),* $(,)?]) => {
        &[$(stringify!($uc)),*]
    };
}

/// The commands only the sandbox capability grants (added at run time with `--sandbox`).
pub const SANDBOX_COMMANDS: &[&str] = app_commands!(sandbox_command_names);
/// The commands `capabilities/main.json` grants the UI.
pub const UI_COMMANDS: &[&str] = app_commands!(ui_command_names);

macro_rules! handler {
    (ui: [$($um:ident :: $uc:ident),* $(,)?], sandbox: [$($sm:ident :: $sc:ident),* $(,)?]) => {
        tauri::generate_handler![$($crate::commands::$um::$uc),* , $($crate::commands::$sm::$sc),*]
    };
}

/// The invoke handler of every listed command.
pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static
{
    app_commands!(handler)
}

/// The capability of `--sandbox` mode: the sandbox commands, for the main window only.
pub fn sandbox_capability() -> tauri::ipc::CapabilityBuilder {
    SANDBOX_COMMANDS.iter().fold(
        tauri::ipc::CapabilityBuilder::new("sandbox").window(crate::MAIN_WINDOW),
        |capability, command| capability.permission(format!("allow-{}", command.replace('_', "-"))),
    )
}

/// Now, unix ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
