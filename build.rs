//! Builds the Tauri context and the app's ACL manifest.
//!
//! Declaring the app's commands here makes Tauri check every UI call against the capability
//! files: a command not granted in `capabilities/` is refused, even from our own window.

/// Every command the UI may call; `capabilities/main.json` grants exactly these.
const COMMANDS: &[&str] = &[
    "app_status",
    "ui_ready",
    "sign_in_send_email_otp",
    "sign_in_verify_email_otp",
    "check_step_up",
    "begin_step_up",
    "send_email_otp",
    "verify_email_otp",
    "send_sms_otp",
    "verify_sms_otp",
    "verify_totp",
    "verify_recovery_code",
    "verify_passkey",
    "mfa_devices",
    "add_device_passkey",
    "export_private_key",
    "verify_export_again",
    "cancel_step_up",
    "token_status",
    "step_up_history",
    "logout",
    "sandbox_outbox",
    "sandbox_open_link",
    "sandbox_sign_in",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        // A build script reports failure by exiting non-zero with the reason on stderr.
        eprintln!("tauri-build failed: {error:#}");
        std::process::exit(1);
    }
}
