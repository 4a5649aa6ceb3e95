//! Where the app's environment comes from outside the sandbox: the environment variables a
//! launcher (or a test) sets. Read at launch; validated before any client is built.

use stepup_client::Config;
use stepup_requests::{AppError, ReturnToAllowList};
use url::Url;

/// `STEPUP_ENVIRONMENT_ID` (required) and `STEPUP_API_BASE_URL` (optional) outside the sandbox.
pub fn config_from_env() -> Result<Config, AppError> {
    let not_configured = || {
        AppError::NotConfigured(
            "no environment is configured: set STEPUP_ENVIRONMENT_ID (and STEPUP_API_BASE_URL), or start the app with --sandbox".into(),
        )
    };
    let env_id = std::env::var("STEPUP_ENVIRONMENT_ID").map_err(|_| not_configured())?;
    let mut config = Config::new(env_id)?;
    if let Ok(base) = std::env::var("STEPUP_API_BASE_URL") {
        let url = Url::parse(&base).map_err(|_| {
            AppError::NotConfigured("STEPUP_API_BASE_URL is not a URL: fix it and restart".into())
        })?;
        config = config.with_api_base_url(url);
    }
    if let Ok(origin) = std::env::var("STEPUP_APP_ORIGIN") {
        config = config.with_app_origin(origin);
    }
    config.validate()?;
    Ok(config)
}

/// The origins a deep link's `return_to` may name: `STEPUP_APP_ORIGIN` (the environment's
/// own web app) and `STEPUP_RETURN_TO_ORIGINS` (comma-separated). Known at launch, so that a
/// link is validated the moment it arrives, before the backend has started.
pub fn allow_list_from_env() -> ReturnToAllowList {
    let mut origins: Vec<String> = Vec::new();
    if let Ok(origin) = std::env::var("STEPUP_APP_ORIGIN") {
        origins.push(origin);
    }
    if let Ok(extra) = std::env::var("STEPUP_RETURN_TO_ORIGINS") {
        origins.extend(extra.split(',').map(str::to_owned));
    }
    ReturnToAllowList::new(origins)
}
