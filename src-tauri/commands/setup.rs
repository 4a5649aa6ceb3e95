//! The first-run setup and Settings: which Dynamic environment a real (non-sandbox) app talks
//! to, saved in the settings file ([`crate::settings`]). Saving another environment signs out
//! of the old one and restarts the backend on the new one.

use super::CommandResult;
use crate::settings::{
    read_file, settings_path, write_file, FileState, Overrides, Settings, Source, DASHBOARD_URL,
};
use crate::state::{AppState, Backend};
use serde::Serialize;
use stepup_client::StepUpError;
use stepup_requests::AppError;
use tauri::{AppHandle, Emitter, Runtime, State};

/// What the setup form shows.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SetupView {
    /// Where the environment comes from now (`environment`, `file`, `none`).
    pub source: Source,
    /// The app runs its embedded sandbox (setup does not apply).
    pub sandbox: bool,
    /// The file's values (the form's), empty when none.
    pub environment_id: String,
    /// The file's API base URL, empty for Dynamic's.
    pub api_base_url: String,
    /// The file's app origin, empty when none.
    pub app_origin: String,
    /// The environment variables that override the file.
    pub overridden_by: Vec<&'static str>,
    /// The settings file.
    pub path: String,
    /// Why the file cannot be used, when it cannot.
    pub problem: Option<String>,
    /// Where the environment id is found in Dynamic's dashboard.
    pub dashboard_url: &'static str,
}

fn setup_view(sandbox: bool) -> SetupView {
    let path = settings_path();
    let file = path.as_deref().map_or(FileState::Missing, read_file);
    let overrides = Overrides::from_env();
    let source = if sandbox {
        Source::None
    } else {
        crate::settings::resolve(&overrides, &file).0
    };
    let (settings, problem) = match file {
        FileState::Valid(settings) => (Some(settings), None),
        FileState::Invalid(reason) => (None, Some(reason)),
        FileState::Missing => (None, None),
    };
    SetupView {
        source,
        sandbox,
        environment_id: settings
            .as_ref()
            .map(|s| s.environment_id.clone())
            .unwrap_or_default(),
        api_base_url: settings
            .as_ref()
            .and_then(|s| s.api_base_url.clone())
            .unwrap_or_default(),
        app_origin: settings.and_then(|s| s.app_origin).unwrap_or_default(),
        overridden_by: overrides.names(),
        path: path.map(|p| p.display().to_string()).unwrap_or_default(),
        problem,
        dashboard_url: DASHBOARD_URL,
    }
}

/// Where the environment comes from, and the settings file's values.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn setup_status(state: State<'_, AppState>) -> SetupView {
    setup_view(state.launch.sandbox)
}

/// Saves the environment (validated first: the id a UUID, the URLs as the client accepts
/// them), signs out of the old one when it changes, and restarts the backend on it.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn save_setup<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, AppState>,
    environment_id: String,
    api_base_url: Option<String>,
    app_origin: Option<String>,
) -> CommandResult<SetupView> {
    if state.launch.sandbox {
        return Err(AppError::Client(StepUpError::InvalidInput(
            "the sandbox has its own environment: start the app without --sandbox to set one up"
                .into(),
        )));
    }
    let settings = Settings::validated(
        &environment_id,
        api_base_url.as_deref(),
        app_origin.as_deref(),
    )?;
    let path = settings_path().ok_or_else(|| {
        AppError::NotConfigured(
            "there is no settings folder: set HOME or XDG_CONFIG_HOME and restart".into(),
        )
    })?;
    write_file(&path, &settings)?;
    tracing::info!(path = %path.display(), "settings saved");
    // The old environment's session and tokens leave the keychain when the environment changes.
    if let Some(old) = state.backend_now() {
        let (_, new) = crate::environment::config_from_settings();
        let same = new.as_ref().is_ok_and(|c| {
            c.environment_id == old.environment_id && c.api_base_url.as_str() == old.api_base_url
        });
        if let (false, Ok(client)) = (same, old.client()) {
            if client.current_user().is_some() {
                if let Err(error) = client.logout().await {
                    tracing::warn!(%error, "could not sign out of the old environment");
                }
            }
        }
    }
    state.reload_allow_list();
    *state.sign_in.lock().await = None;
    let backend = Backend::start(&state.launch).await;
    state.set_backend(backend);
    let _ = app.emit("app-state", ());
    Ok(setup_view(false))
}

/// Opens the page of Dynamic's dashboard that shows the environment id, in the system browser.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn open_setup_help() {
    crate::environment::open_in_system_browser(DASHBOARD_URL);
}
