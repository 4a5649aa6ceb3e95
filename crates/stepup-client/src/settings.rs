//! The environment's project settings (`GET settings?sdkVersion=…`), read at start and kept:
//! which verification methods the environment has turned on, its social providers, and its
//! external-auth (BYOA) configuration.
//!
//! As the SDK's `fetchProjectSettings`, a read is reused for 5 minutes without asking again
//! (`PROJECT_SETTINGS_EXPIRATION_TIME`). After that the client asks again with the answer's
//! `ETag` in `If-None-Match`, so an unchanged document costs a `304` and no body. When the server
//! cannot be reached, the last settings read are used (and said in the log): they only narrow
//! what the dialog offers, the server still decides every verification.
//!
//! The rules of "turned on" are in [`EnvironmentSettings::allows`]. A method the settings say
//! nothing about stays on: the server's step-up check lists the user's credentials, and a server
//! that does not describe a method has not turned it off.

use crate::check::CredentialMethod;
use crate::client::StepUpClient;
use crate::error::StepUpError;
use crate::http::{client_version, parse_body, ApiRequest};
use crate::verify::ProviderSettings;
use serde::{Deserialize, Deserializer};
use std::sync::{Arc, Mutex};
use stepup_protocol::jwks::Es256Key;

/// How long a read is used without asking again (the SDK's 5 minutes).
pub const SETTINGS_MAX_AGE_MS: i64 = 5 * 60 * 1000;
/// The most social/sign-in providers read.
pub const MAX_PROVIDERS: usize = 64;
/// The most MFA method entries (`security.mfa.methods`, `availableMethods`) read.
pub const MAX_MFA_METHODS: usize = 16;
/// The most chains read.
pub const MAX_CHAINS: usize = 64;
/// The longest URL-like setting (`jwksUrl`) or claim value (`iss`, `aud`) accepted.
pub const MAX_SETTING_LEN: usize = 2048;

/// The environment's external-auth (BYOA) configuration, `security.externalAuth`
/// (A:`ExternalAuth`: `{enabled?, iss?, aud?, jwksUrl?, cookieName?}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAuthSettings {
    /// Whether the environment takes its customer's assertions.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// The `iss` the customer's assertions carry.
    #[serde(default)]
    pub iss: Option<String>,
    /// The `aud` the customer's assertions carry.
    #[serde(default)]
    pub aud: Option<String>,
    /// Where the customer's signing keys are published (a JWKS).
    #[serde(default)]
    pub jwks_url: Option<String>,
}

/// The settings this client reads, checked and bounded.
#[derive(Debug, Clone, Default)]
pub struct EnvironmentSettings {
    mfa_enabled: Option<bool>,
    /// `security.mfa.methods`: (type, enabled, allowBackupCodes).
    mfa_methods: Option<Vec<(String, bool, bool)>>,
    /// `security.mfa.availableMethods`.
    available_methods: Option<Vec<String>>,
    providers: Vec<ProviderSettings>,
    /// `chains[name = EVM].enabled`.
    evm_enabled: Option<bool>,
    google_drive_backup: bool,
    external_auth: Option<ExternalAuthSettings>,
}

impl EnvironmentSettings {
    /// Parses a settings document (the whole `ProjectSettings`; unknown keys are ignored),
    /// refusing one past the bounds above.
    pub fn parse(body: &[u8]) -> Result<Self, StepUpError> {
        let wire: Wire = parse_body(body)?;
        let too_many =
            |what: &str| StepUpError::InvalidResponse(format!("the settings list too many {what}"));
        let providers = wire.providers.unwrap_or_default();
        if providers.len() > MAX_PROVIDERS {
            return Err(too_many("providers"));
        }
        let chains = wire.chains.unwrap_or_default();
        if chains.len() > MAX_CHAINS {
            return Err(too_many("chains"));
        }
        let security = wire.security.unwrap_or_default();
        let mfa = security.mfa.unwrap_or_default();
        if mfa
            .methods
            .as_ref()
            .is_some_and(|m| m.len() > MAX_MFA_METHODS)
            || mfa
                .available_methods
                .as_ref()
                .is_some_and(|m| m.len() > MAX_MFA_METHODS)
        {
            return Err(too_many("MFA methods"));
        }
        let external_auth = security.external_auth;
        if let Some(e) = &external_auth {
            let long = |v: &Option<String>| v.as_ref().is_some_and(|v| v.len() > MAX_SETTING_LEN);
            if long(&e.iss) || long(&e.aud) || long(&e.jwks_url) {
                return Err(StepUpError::InvalidResponse(
                    "the external-auth settings are too long".into(),
                ));
            }
        }
        Ok(Self {
            mfa_enabled: mfa.enabled,
            mfa_methods: mfa.methods.map(|methods| {
                methods
                    .into_iter()
                    .map(|m| {
                        (
                            m.kind,
                            m.enabled.unwrap_or(true),
                            m.allow_backup_codes.unwrap_or(false),
                        )
                    })
                    .collect()
            }),
            available_methods: mfa.available_methods,
            providers,
            evm_enabled: chains.iter().find(|c| c.name == "EVM").map(|c| c.enabled),
            google_drive_backup: wire
                .sdk
                .and_then(|s| s.waas)
                .and_then(|w| w.backup_options)
                .is_some_and(|o| o.iter().any(|b| b == "googleDrive")),
            external_auth,
        })
    }

    /// Whether the environment has the MFA method of `kind` (`totp`, `passkey`) turned on:
    /// MFA not turned off, and the method in `security.mfa.methods` as enabled (else in
    /// `availableMethods`); on when the settings describe neither list.
    fn mfa_method_on(&self, kind: &str) -> bool {
        if self.mfa_enabled == Some(false) {
            return false;
        }
        if let Some(methods) = &self.mfa_methods {
            return methods.iter().any(|(k, enabled, _)| k == kind && *enabled);
        }
        if let Some(available) = &self.available_methods {
            return available.iter().any(|k| k == kind);
        }
        true
    }

    /// Whether a sign-in provider (`emailOnly`, `sms`) is on: off only when listed with
    /// `enabledAt: null` (A:`Provider.enabledAt`, null for a provider the environment turned off).
    fn sign_in_provider_on(&self, name: &str) -> bool {
        self.providers
            .iter()
            .find(|p| p.provider == name)
            .is_none_or(ProviderSettings::is_enabled)
    }

    /// Whether the environment lets a credential of `method` verify the user. `provider` names
    /// the social provider of a social credential (a social provider must be listed, and not
    /// turned off, since its page is built from its entry).
    pub fn allows(&self, method: CredentialMethod, provider: Option<&str>) -> bool {
        match method {
            CredentialMethod::Totp => self.mfa_method_on("totp"),
            CredentialMethod::Passkey => self.mfa_method_on("passkey"),
            CredentialMethod::Email => self.sign_in_provider_on("emailOnly"),
            CredentialMethod::Sms => self.sign_in_provider_on("sms"),
            CredentialMethod::Wallet => self.evm_enabled != Some(false),
            CredentialMethod::Social => provider.is_some_and(|p| self.social_provider(p).is_some()),
            CredentialMethod::ExternalAuth => self.external_auth().is_some(),
            CredentialMethod::Unknown => false,
        }
    }

    /// Whether recovery codes are on: an MFA method that is on allows backup codes (on when
    /// the settings list no MFA methods).
    pub fn allows_recovery_codes(&self) -> bool {
        if self.mfa_enabled == Some(false) {
            return false;
        }
        match &self.mfa_methods {
            Some(methods) => methods
                .iter()
                .any(|(_, enabled, backup_codes)| *enabled && *backup_codes),
            None => true,
        }
    }

    /// The entry of a social provider that is on.
    pub fn social_provider(&self, name: &str) -> Option<&ProviderSettings> {
        self.providers
            .iter()
            .find(|p| p.provider == name)
            .filter(|p| p.is_enabled())
    }

    /// Whether the embedded wallets back up to Google Drive (`sdk.waas.backupOptions`), which
    /// changes Google's provider URL.
    pub fn google_drive_backup(&self) -> bool {
        self.google_drive_backup
    }

    /// The external-auth configuration, when the environment has one turned on.
    pub fn external_auth(&self) -> Option<&ExternalAuthSettings> {
        self.external_auth
            .as_ref()
            .filter(|e| e.enabled != Some(false))
    }
}

/// The last settings read, their `ETag` and when they were read; one read at a time.
#[derive(Debug, Default)]
pub(crate) struct SettingsCache {
    last: Mutex<Option<Cached>>,
    /// Held across a read, so that tasks asking at once share one request.
    reading: tokio::sync::Mutex<()>,
    /// The external-auth JWKS last fetched: its URL, when, and its keys.
    jwks: Mutex<Option<(String, i64, Vec<Es256Key>)>>,
}

#[derive(Debug, Clone)]
struct Cached {
    settings: Arc<EnvironmentSettings>,
    etag: Option<String>,
    read_at_ms: i64,
}

impl SettingsCache {
    fn last(&self) -> Option<Cached> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn put(&self, cached: Cached) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(cached);
    }

    /// When the JWKS at `url` was fetched, and its keys.
    pub(crate) fn jwks(&self, url: &str) -> Option<(i64, Vec<Es256Key>)> {
        self.jwks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|(u, _, _)| u == url)
            .map(|(_, at, keys)| (*at, keys.clone()))
    }

    pub(crate) fn put_jwks(&self, url: &str, at_ms: i64, keys: Vec<Es256Key>) {
        *self.jwks.lock().unwrap_or_else(|e| e.into_inner()) = Some((url.to_owned(), at_ms, keys));
    }
}

fn fresh(cached: &Cached, now_ms: i64) -> bool {
    (cached.read_at_ms..cached.read_at_ms + SETTINGS_MAX_AGE_MS).contains(&now_ms)
}

impl StepUpClient {
    /// The environment's settings: the last read while it is younger than 5 minutes (no
    /// network), else read again (`If-None-Match` with the last `ETag`: a `304` renews the last
    /// read). When the read fails, the last settings read are answered if there are any;
    /// otherwise the error.
    pub async fn settings(&self) -> Result<Arc<EnvironmentSettings>, StepUpError> {
        let cache = &self.inner.settings;
        if let Some(c) = cache.last().filter(|c| fresh(c, self.inner.now_ms())) {
            return Ok(c.settings);
        }
        let _one_read = cache.reading.lock().await;
        let last = cache.last();
        if let Some(c) = last.as_ref().filter(|c| fresh(c, self.inner.now_ms())) {
            return Ok(c.settings.clone());
        }
        // A public document, read as the SDK reads it when it starts: before it has session
        // keys, so without `x-dyn-session-public-key` (found by the request diff).
        let mut req = ApiRequest::get("settings")
            .query("sdkVersion", client_version())
            .without_session_key();
        if let Some(etag) = last.as_ref().and_then(|c| c.etag.clone()) {
            req = req.header("if-none-match", etag);
        }
        let read = match self.inner.send_answer(req).await {
            Ok(answer) if answer.not_modified => match &last {
                Some(c) => Ok(Cached {
                    read_at_ms: self.inner.now_ms(),
                    ..c.clone()
                }),
                None => Err(StepUpError::InvalidResponse(
                    "the server answered 304 to a first read of the settings".into(),
                )),
            },
            Ok(answer) => EnvironmentSettings::parse(&answer.body).map(|settings| Cached {
                settings: Arc::new(settings),
                etag: answer.etag,
                read_at_ms: self.inner.now_ms(),
            }),
            Err(e) => Err(e),
        };
        match (read, last) {
            (Ok(cached), _) => {
                tracing::debug!(etag = cached.etag.is_some(), "environment settings read");
                cache.put(cached.clone());
                Ok(cached.settings)
            }
            (Err(e), Some(last)) => {
                tracing::warn!(
                    error_code = e.code(),
                    "the settings could not be read again: the last read is used"
                );
                Ok(last.settings)
            }
            (Err(e), None) => Err(e),
        }
    }

    /// The settings last read, however old, without any network call; `None` before the
    /// first read.
    pub fn cached_settings(&self) -> Option<Arc<EnvironmentSettings>> {
        self.inner.settings.last().map(|c| c.settings)
    }
}

// ---------------------------------------------------------------- the wire shape

#[derive(Debug, Default, Deserialize)]
struct Wire {
    #[serde(default)]
    providers: Option<Vec<ProviderSettings>>,
    #[serde(default)]
    chains: Option<Vec<ChainWire>>,
    #[serde(default)]
    sdk: Option<SdkWire>,
    #[serde(default)]
    security: Option<SecurityWire>,
}

#[derive(Debug, Default, Deserialize)]
struct ChainWire {
    #[serde(default)]
    name: String,
    #[serde(default)]
    enabled: bool,
}

#[derive(Debug, Default, Deserialize)]
struct SdkWire {
    #[serde(default)]
    waas: Option<WaasWire>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WaasWire {
    #[serde(default)]
    backup_options: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecurityWire {
    #[serde(default)]
    mfa: Option<MfaWire>,
    #[serde(default)]
    external_auth: Option<ExternalAuthSettings>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MfaWire {
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    available_methods: Option<Vec<String>>,
    #[serde(default)]
    methods: Option<Vec<MfaMethodWire>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MfaMethodWire {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    allow_backup_codes: Option<bool>,
}

/// `Some(None)` for a key sent as `null`, `None` for a key not sent (with `#[serde(default)]`).
pub(crate) fn present_or_null<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> EnvironmentSettings {
        EnvironmentSettings::parse(v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn settings_that_say_nothing_leave_every_method_on_but_social() {
        let s = parse(json!({"chains": [], "kyc": [], "security": {}}));
        for m in [
            CredentialMethod::Totp,
            CredentialMethod::Passkey,
            CredentialMethod::Email,
            CredentialMethod::Sms,
            CredentialMethod::Wallet,
        ] {
            assert!(s.allows(m, None), "{m:?}");
        }
        assert!(s.allows_recovery_codes());
        assert!(!s.allows(CredentialMethod::Social, Some("google")));
        assert!(!s.allows(CredentialMethod::ExternalAuth, None));
        assert!(!s.allows(CredentialMethod::Unknown, None));
    }

    #[test]
    fn each_switch_of_the_settings_turns_its_method_off() {
        let s = parse(json!({
            "chains": [{"name": "EVM", "enabled": false}, {"name": "SOL", "enabled": true}],
            "providers": [
                {"provider": "emailOnly", "enabledAt": null},
                {"provider": "sms", "enabledAt": "2026-01-01T00:00:00Z"},
                {"provider": "google", "enabledAt": null, "baseAuthUrl": "https://g.example"},
                {"provider": "github", "enabledAt": "2026-01-01T00:00:00Z", "baseAuthUrl": "https://gh.example"},
                {"provider": "discord", "baseAuthUrl": "https://d.example"},
            ],
            "security": {"mfa": {
                "enabled": true,
                "availableMethods": ["totp", "passkey"],
                "methods": [
                    {"type": "totp", "enabled": false, "allowBackupCodes": true},
                    {"type": "passkey", "enabled": true, "allowBackupCodes": false},
                ],
            }},
        }));
        assert!(!s.allows(CredentialMethod::Totp, None));
        assert!(s.allows(CredentialMethod::Passkey, None));
        // The one method allowing backup codes is off.
        assert!(!s.allows_recovery_codes());
        assert!(!s.allows(CredentialMethod::Email, None));
        assert!(s.allows(CredentialMethod::Sms, None));
        assert!(!s.allows(CredentialMethod::Wallet, None));
        assert!(!s.allows(CredentialMethod::Social, Some("google")));
        assert!(s.allows(CredentialMethod::Social, Some("github")));
        // Listed without enabledAt: on (the sandbox's older documents, the SDK's fixtures).
        assert!(s.allows(CredentialMethod::Social, Some("discord")));
        assert!(!s.allows(CredentialMethod::Social, Some("twitter")));
        assert!(!s.allows(CredentialMethod::Social, None));
        assert!(s.social_provider("google").is_none());
        assert_eq!(
            s.social_provider("github")
                .unwrap()
                .base_auth_url
                .as_deref(),
            Some("https://gh.example")
        );
    }

    #[test]
    fn mfa_turned_off_turns_off_its_methods_and_codes() {
        let s = parse(json!({"security": {"mfa": {"enabled": false, "methods": [
            {"type": "totp", "enabled": true, "allowBackupCodes": true}
        ]}}}));
        assert!(!s.allows(CredentialMethod::Totp, None));
        assert!(!s.allows(CredentialMethod::Passkey, None));
        assert!(!s.allows_recovery_codes());
        let only_available = parse(json!({"security": {"mfa": {"availableMethods": ["passkey"]}}}));
        assert!(!only_available.allows(CredentialMethod::Totp, None));
        assert!(only_available.allows(CredentialMethod::Passkey, None));
    }

    #[test]
    fn external_auth_is_read_and_can_be_off() {
        let on = parse(json!({"security": {"externalAuth": {
            "enabled": true, "iss": "https://acme.example", "aud": "stepup",
            "jwksUrl": "https://acme.example/.well-known/jwks.json", "cookieName": null,
        }}}));
        let e = on.external_auth().unwrap();
        assert_eq!(e.iss.as_deref(), Some("https://acme.example"));
        assert_eq!(e.aud.as_deref(), Some("stepup"));
        assert!(on.allows(CredentialMethod::ExternalAuth, None));
        let off = parse(json!({"security": {"externalAuth": {"enabled": false}}}));
        assert!(off.external_auth().is_none());
    }

    #[test]
    fn hostile_settings_are_refused_with_what_was_wrong() {
        let many = |n: usize, item: serde_json::Value| vec![item; n];
        for (doc, why) in [
            (
                json!({"providers": many(MAX_PROVIDERS + 1, json!({"provider": "google"}))}),
                "providers",
            ),
            (
                json!({"chains": many(MAX_CHAINS + 1, json!({"name": "EVM", "enabled": true}))}),
                "chains",
            ),
            (
                json!({"security": {"mfa": {"methods": many(MAX_MFA_METHODS + 1, json!({"type": "totp"}))}}}),
                "MFA methods",
            ),
            (
                json!({"security": {"mfa": {"availableMethods": many(MAX_MFA_METHODS + 1, json!("totp"))}}}),
                "MFA methods",
            ),
            (
                json!({"security": {"externalAuth": {"iss": "x".repeat(MAX_SETTING_LEN + 1)}}}),
                "too long",
            ),
            (json!({"providers": {"not": "a list"}}), "unexpected shape"),
        ] {
            let err = EnvironmentSettings::parse(doc.to_string().as_bytes()).unwrap_err();
            assert!(err.to_string().contains(why), "{err} (wanted {why})");
        }
        assert!(EnvironmentSettings::parse(b"{\"providers\": [").is_err());
    }

    #[test]
    fn a_read_is_fresh_for_five_minutes_from_when_it_was_made() {
        let c = Cached {
            settings: Arc::default(),
            etag: None,
            read_at_ms: 1_000_000,
        };
        assert!(fresh(&c, 1_000_000));
        assert!(fresh(&c, 1_000_000 + SETTINGS_MAX_AGE_MS - 1));
        assert!(!fresh(&c, 1_000_000 + SETTINGS_MAX_AGE_MS));
        // A clock set back does not make an old read look new.
        assert!(!fresh(&c, 999_999));
    }
}
