//! What the client talks to and how long it waits: environment, API base URL, origin, timeouts.

use crate::error::StepUpError;
use std::time::Duration;
use url::Url;

/// Dynamic's production API (C:`src/client/consts.ts` `DEFAULT_API_BASE_URL`).
pub const DEFAULT_API_BASE_URL: &str = "https://app.dynamicauth.com/api/v0";

/// The longest environment id accepted (Dynamic's are 36-character UUIDs).
pub const MAX_ENVIRONMENT_ID_LEN: usize = 64;

/// How the client reaches its environment. Built with [`Config::new`], which refuses an invalid
/// environment id; [`Config::validate`] runs again when a client is built, because the fields
/// are public.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The environment (project) id: 1–64 characters of `[A-Za-z0-9-]`. It only appears in the
    /// URL path (`/sdk/{environment_id}/...`).
    pub environment_id: String,
    /// API base, `https://app.dynamicauth.com/api/v0` by default; `http` is accepted for a
    /// local sandbox. Paths are appended as `{base}/sdk/{env}/{path}`.
    pub api_base_url: Url,
    /// Sent as `Origin` when set (it must be on the environment's CORS allowlist).
    pub app_origin: Option<String>,
    /// Whole-request timeout of every HTTP call (30 s by default).
    pub http_timeout: Duration,
    /// Timeout of every vault (keychain) call (2 s by default): a locked keychain becomes an
    /// error, never a hang.
    pub vault_timeout: Duration,
}

impl Config {
    /// A configuration for `environment_id` with the defaults; refuses an invalid id.
    pub fn new(environment_id: impl Into<String>) -> Result<Self, StepUpError> {
        let config = Self {
            environment_id: environment_id.into(),
            api_base_url: default_base_url()?,
            app_origin: None,
            http_timeout: Duration::from_secs(30),
            vault_timeout: Duration::from_secs(2),
        };
        config.validate()?;
        Ok(config)
    }

    /// Uses another API base (a sandbox, a staging server).
    pub fn with_api_base_url(mut self, url: Url) -> Self {
        self.api_base_url = url;
        self
    }

    /// Sends `Origin: origin` on every request.
    pub fn with_app_origin(mut self, origin: impl Into<String>) -> Self {
        self.app_origin = Some(origin.into());
        self
    }

    /// Sets the whole-request HTTP timeout.
    pub fn with_http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Sets the timeout of each vault call.
    pub fn with_vault_timeout(mut self, timeout: Duration) -> Self {
        self.vault_timeout = timeout;
        self
    }

    /// Checks every invariant documented on the fields.
    pub fn validate(&self) -> Result<(), StepUpError> {
        validate_environment_id(&self.environment_id)?;
        if !matches!(self.api_base_url.scheme(), "https" | "http")
            || self.api_base_url.host().is_none()
        {
            return Err(StepUpError::InvalidInput(
                "the API base URL must be an http(s) URL with a host".into(),
            ));
        }
        if let Some(origin) = &self.app_origin {
            let printable = origin.bytes().all(|b| (0x21..0x7f).contains(&b));
            if origin.is_empty() || origin.len() > 512 || !printable {
                return Err(StepUpError::InvalidInput(
                    "the app origin must be a printable ASCII origin".into(),
                ));
            }
        }
        if self.http_timeout.is_zero() || self.vault_timeout.is_zero() {
            return Err(StepUpError::InvalidInput(
                "timeouts must be longer than zero".into(),
            ));
        }
        Ok(())
    }
}

fn default_base_url() -> Result<Url, StepUpError> {
    Url::parse(DEFAULT_API_BASE_URL)
        .map_err(|_| StepUpError::InvalidInput("the default API base URL".into()))
}

/// Refuses an environment id that is empty, longer than 64 or not `[A-Za-z0-9-]`.
pub fn validate_environment_id(id: &str) -> Result<(), StepUpError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ENVIRONMENT_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(StepUpError::InvalidInput(
            "the environment id must be 1 to 64 letters, digits or dashes".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_sdk() {
        let c = Config::new("2762a57b-faa4-41ce-9f16-abff9300e2c9").unwrap();
        assert_eq!(
            c.api_base_url.as_str(),
            "https://app.dynamicauth.com/api/v0"
        );
        assert_eq!(c.http_timeout, Duration::from_secs(30));
        assert_eq!(c.vault_timeout, Duration::from_secs(2));
        assert_eq!(c.app_origin, None);
    }

    #[test]
    fn invalid_environment_ids_are_refused() {
        for bad in ["", "a/b", "../x", "env id", &"a".repeat(65), "é"] {
            assert!(
                matches!(Config::new(bad), Err(StepUpError::InvalidInput(_))),
                "{bad}"
            );
        }
        assert!(Config::new("a".repeat(64)).is_ok());
    }

    #[test]
    fn validate_refuses_bad_origin_and_scheme() {
        let c = Config::new("env")
            .unwrap()
            .with_app_origin("https://a.example\r\nx: y");
        assert!(c.validate().is_err());
        let c = Config::new("env")
            .unwrap()
            .with_api_base_url(Url::parse("file:///tmp").unwrap());
        assert!(c.validate().is_err());
    }
}
