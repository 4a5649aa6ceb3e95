// The one list of the app's commands, by module. Everything else follows from it:
// - build.rs includes this file: it declares the commands to Tauri (which generates their
//   `allow-…` permissions) and writes capabilities/main.json, which grants the `ui` part;
// - lib.rs registers the handlers of both parts;
// - the `sandbox` part is granted by a capability added at run time in `--sandbox` mode only.
// Plain `macro_rules!` with no `use`, so that build.rs can `include!` it.

/// Calls `$callback! { ui: [module::command, …], sandbox: [module::command, …] }`.
macro_rules! app_commands {
    ($callback:ident) => {
        $callback! {
            ui: [
                app::app_status,
                app::ui_ready,
                app::token_status,
                app::step_up_history,
                app::mfa_devices,
                app::logout,
                app::quit_app,
                app::revoke_elevated_access,
                sign_in::sign_in_send_email_otp,
                sign_in::sign_in_verify_email_otp,
                step_up::begin_step_up,
                step_up::send_email_otp,
                step_up::verify_email_otp,
                step_up::send_sms_otp,
                step_up::verify_sms_otp,
                step_up::verify_totp,
                step_up::verify_recovery_code,
                step_up::verify_passkey,
                step_up::approve_with_server_confirmation,
                step_up::wallet_message,
                step_up::sign_with_browser_wallet,
                step_up::sign_in_social,
                step_up::open_browser_page_again,
                step_up::cancel_browser_page,
                step_up::verify_wallet_signature,
                step_up::match_number,
                step_up::cancel_step_up,
                step_up::deny_step_up,
                export::export_private_key,
                export::verify_export_again,
                export::copy_exported_key,
                passkeys::add_device_passkey,
                passkeys::device_passkey_status,
                passkeys::remove_device_passkey,
                setup::setup_status,
                setup::save_setup,
                setup::open_setup_help
            ],
            sandbox: [
                sandbox::sandbox_outbox,
                sandbox::sandbox_server_confirmed_link,
                sandbox::sandbox_open_link,
                sandbox::sandbox_sign_in
            ]
        }
    };
}
