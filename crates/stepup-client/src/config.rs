//! What the client talks to and how long it waits: environment, API base URL, origin, timeouts.

use crate::error::StepUpError;
use std::time::Duration;
use url::Url;

/// Dynamic's production API (C:`src/client/consts.ts` `DEFAULT_API_BASE_URL`).
pub const DEFAULT_API_BASE_URL: &str = "https://app.dynamicauth.com/api/v0";

/// The longest environment id accepted (Dynamic's are 36-character UUIDs).
pub const MAX_ENVIRONMENT_ID_LEN: usize = 64;

/// Default [`Config::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default [`Config::first_byte_timeout`].
pub const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`Config::body_timeout`].
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// When this environment variable is `1`, every client refuses an API base URL that is not on
/// loopback (127.0.0.0/8, ::1, `localhost`), `https` included. `cargo xtask` sets it for every
/// test, benchmark and the demo: nothing they run may reach a host beyond this machine, and a
/// test that forgot to point its client at the sandbox (the default is Dynamic's real API)
/// fails at once instead of calling out.
pub const LOOPBACK_ONLY_ENV: &str = "STEPUP_LOOPBACK_ONLY";

/// How the client reaches its environment. Built with [`Config::new`], which refuses an invalid
/// environment id; [`Config::validate`] checks every field when a client is built, because the
/// fields are public.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The environment (project) id: 1–64 characters of `[A-Za-z0-9-]`. It only appears in the
    /// URL path (`/sdk/{environment_id}/...`).
    pub environment_id: String,
    /// API base, `https://app.dynamicauth.com/api/v0` by default; `http` is accepted only to a
    /// loopback host (a local sandbox), never across a network. Paths are appended as
    /// `{base}/sdk/{env}/{path}`.
    pub api_base_url: Url,
    /// Sent as `Origin` when set (it must be on the environment's CORS allowlist).
    pub app_origin: Option<String>,
    /// The upper bound of a whole HTTP call, every phase included (30 s by default). The
    /// phase timeouts below normally fire first (5 s + 10 s by default); this one bounds
    /// their sum, and a phase never waits past it. Longer than zero.
    pub http_timeout: Duration,
    /// Opening a connection, TCP and TLS (3 s by default). Longer than zero and not longer
    /// than `first_byte_timeout`, which includes it.
    pub connect_timeout: Duration,
    /// From the start of a call (connecting included) until the answer's status and headers
    /// have arrived (5 s by default): a server that accepts and never answers fails here.
    /// Longer than zero.
    pub first_byte_timeout: Duration,
    /// From the answer's headers until the last byte of its body (10 s by default): a
    /// trickled or stalled body fails here. Longer than zero.
    pub body_timeout: Duration,
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
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            first_byte_timeout: DEFAULT_FIRST_BYTE_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            vault_timeout: Duration::from_secs(2),
        };
        validate_environment_id(&config.environment_id)?;
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

    /// Sets the upper bound of a whole HTTP call.
    pub fn with_http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Sets how long opening a connection may take.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how long a call may wait for the answer's headers, connecting included.
    pub fn with_first_byte_timeout(mut self, timeout: Duration) -> Self {
        self.first_byte_timeout = timeout;
        self
    }

    /// Sets how long reading an answer's body may take.
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Sets the timeout of each vault call.
    pub fn with_vault_timeout(mut self, timeout: Duration) -> Self {
        self.vault_timeout = timeout;
        self
    }

    /// Checks every invariant documented on the fields, and the loopback-only rule of a test
    /// run when [`LOOPBACK_ONLY_ENV`] is `1`.
    pub fn validate(&self) -> Result<(), StepUpError> {
        let loopback_only = std::env::var(LOOPBACK_ONLY_ENV).is_ok_and(|v| v == "1");
        self.validate_with(loopback_only)
    }

    /// [`Config::validate`] with the loopback-only rule given instead of read from the
    /// environment.
    pub fn validate_with(&self, loopback_only: bool) -> Result<(), StepUpError> {
        validate_environment_id(&self.environment_id)?;
        let url = &self.api_base_url;
        if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
            return Err(StepUpError::InvalidInput(
                "the API base URL must be an http(s) URL with a host".into(),
            ));
        }
        if url.scheme() == "http" && !is_loopback(url) {
            return Err(StepUpError::InvalidInput(
                "the API base URL must use https: plain http is accepted only to this machine (127.0.0.1, ::1, localhost)".into(),
            ));
        }
        if loopback_only && !is_loopback(url) {
            return Err(StepUpError::InvalidInput(format!(
                "{LOOPBACK_ONLY_ENV}=1 (a test run): the API base URL must be on this machine, not {}",
                url.host_str().unwrap_or("?")
            )));
        }
        if let Some(origin) = &self.app_origin {
            let printable = origin.bytes().all(|b| (0x21..0x7f).contains(&b));
            if origin.is_empty() || origin.len() > 512 || !printable {
                return Err(StepUpError::InvalidInput(
                    "the app origin must be a printable ASCII origin".into(),
                ));
            }
        }
        let timeouts = [
            self.http_timeout,
            self.connect_timeout,
            self.first_byte_timeout,
            self.body_timeout,
            self.vault_timeout,
        ];
        if timeouts.iter().any(Duration::is_zero) {
            return Err(StepUpError::InvalidInput(
                "timeouts must be longer than zero".into(),
            ));
        }
        if self.connect_timeout > self.first_byte_timeout {
            return Err(StepUpError::InvalidInput(
                "the connect timeout must not be longer than the first-byte timeout, which includes connecting".into(),
            ));
        }
        Ok(())
    }
}

/// Whether `url`'s host is this machine: an IPv4 loopback address (127.0.0.0/8), `::1`, or
/// `localhost` (RFC 6761 §6.3: always the loopback interface).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
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
        assert_eq!(
            (c.connect_timeout, c.first_byte_timeout, c.body_timeout),
            (
                Duration::from_secs(3),
                Duration::from_secs(5),
                Duration::from_secs(10)
            )
        );
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

    fn with_base(url: &str) -> Config {
        Config::new("env")
            .unwrap()
            .with_api_base_url(Url::parse(url).unwrap())
    }

    #[test]
    fn plain_http_is_refused_except_to_loopback() {
        for ok in [
            "http://127.0.0.1:8787/api/v0",
            "http://127.3.4.5/api/v0",
            "http://[::1]:9/api/v0",
            "http://localhost:1/api/v0",
            "http://LOCALHOST/api/v0",
            "https://app.dynamicauth.com/api/v0",
        ] {
            assert!(with_base(ok).validate_with(false).is_ok(), "{ok}");
        }
        for bad in [
            "http://app.dynamicauth.com/api/v0",
            "http://192.168.1.10/api/v0",
            "http://[::2]/api/v0",
            "http://localhost.example/api/v0",
            "http://127.0.0.1.nip.io/api/v0",
            "http://0.0.0.0/api/v0",
        ] {
            let err = with_base(bad).validate_with(false).unwrap_err();
            assert!(err.to_string().contains("https"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_test_run_refuses_every_host_but_loopback() {
        // The default is Dynamic's real API: a test run must never reach it.
        let default = Config::new("env").unwrap();
        assert!(default.validate_with(false).is_ok());
        let err = default.validate_with(true).unwrap_err();
        assert!(
            err.to_string().contains("app.dynamicauth.com"),
            "names the host: {err}"
        );
        assert!(with_base("https://staging.example/api/v0")
            .validate_with(true)
            .is_err());
        assert!(with_base("http://127.0.0.1:8787/api/v0")
            .validate_with(true)
            .is_ok());
    }

    #[test]
    fn phase_timeouts_are_longer_than_zero_and_connecting_fits_in_the_first_byte() {
        let ok = Config::new("env").unwrap();
        assert!(ok.validate_with(false).is_ok());
        for bad in [
            ok.clone().with_connect_timeout(Duration::ZERO),
            ok.clone().with_first_byte_timeout(Duration::ZERO),
            ok.clone().with_body_timeout(Duration::ZERO),
            ok.clone().with_http_timeout(Duration::ZERO),
        ] {
            let err = bad.validate_with(false).unwrap_err();
            assert!(err.to_string().contains("longer than zero"), "{err}");
        }
        let err = ok
            .clone()
            .with_connect_timeout(Duration::from_secs(6))
            .validate_with(false)
            .unwrap_err();
        assert!(err.to_string().contains("first-byte"), "{err}");
        let short = ok
            .with_connect_timeout(Duration::from_millis(100))
            .with_first_byte_timeout(Duration::from_millis(200))
            .with_body_timeout(Duration::from_millis(300));
        assert!(short.validate_with(false).is_ok());
    }
}
