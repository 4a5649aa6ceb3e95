//! The authority: every rule of the sandbox, as synchronous methods on one value that the HTTP
//! layer keeps behind a mutex. Nothing here knows about HTTP except the [`ApiError`] it returns.

use axum::http::StatusCode;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use stepup_protocol::jwt::{self, ElevatedTokenClaims, SessionClaims};
use stepup_protocol::scope::split_scope_claim;
use stepup_protocol::{
    codes, scope_set_key, Clock, CredentialFormat, EmailVerificationCreateResponse,
    ExportPrivateKeyRequest, ExportPrivateKeyResponse, ExternalAuthAssertionResponse,
    JwtVerifiedCredential, MfaDevice, MfaDevicesResponse, OtpSignInRequest, OtpVerifyRequest,
    RecoveryAuthRequest, SdkUser, Secret, SmsVerificationCreateRequest,
    SmsVerificationCreateResponse, StepUpCheck, StepUpCredential, TokenScope, TotpAuthRequest,
    TotpRegisterVerifyRequest, TotpRegistration, VerifyResponse,
};

mod passkeys;

use crate::crypto;
use crate::error::{ApiError, SandboxError};
use crate::store::{
    self, EmailRecord, MfaDeviceRecord, PersistedState, PhoneRecord, RecoveryCodeRecord,
    SessionRecord, UserRecord, WalletRecord,
};
use crate::{Channel, DemoUser, OutboxMessage, SandboxConfig, TokenPolicy, UserSpec};
use passkeys::{passkey_credential, passkey_device_view, Ceremony};

/// Session lifetime.
const SESSION_TTL_SECS: i64 = 3600;
/// An email/SMS code is valid this long.
const OTP_TTL_MS: i64 = 10 * 60 * 1000;
/// The 5th wrong email/SMS code kills the verification.
const OTP_MAX_WRONG: u32 = 5;
/// Wrong MFA codes are counted over this window...
const MFA_WINDOW_MS: i64 = 15 * 60 * 1000;
/// ...and this many lock MFA until the oldest leaves the window.
const MFA_MAX_FAILURES: usize = 5;
/// Nonces are remembered this long.
const NONCE_TTL_MS: i64 = 24 * 3600 * 1000;
/// Bounds on in-memory tables, so that hostile clients cannot grow them without limit.
const MAX_NONCES: usize = 10_000;
const MAX_VERIFICATIONS: usize = 10_000;
const OUTBOX_CAP: usize = 100;
/// Input bounds.
pub(crate) const MAX_EMAIL_LEN: usize = 254;
const MAX_CODE_LEN: usize = 64;
const MAX_ID_LEN: usize = 128;
const MAX_SCOPES: usize = 32;
/// Number of recovery codes a user gets.
const RECOVERY_CODE_COUNT: usize = 10;
/// `kid` of the sandbox's signing key.
const KEY_ID: &str = "stepup-sandbox-1";
/// The session scope every sandbox session carries.
const SESSION_SCOPE: &str = "user:basic";
/// Label of the demo TOTP device.
pub(crate) const DEMO_TOTP_ALIAS: &str = "Authenticator app";

/// Who is calling: the result of checking the session JWT.
#[derive(Debug, Clone)]
pub(crate) struct SessionCtx {
    /// The signed-in user.
    pub user_id: String,
    /// The session id (`sid`).
    pub sid: String,
}

/// Where an email/SMS code went.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OtpTarget {
    Email(String),
    Phone {
        country_code: String,
        iso_country_code: String,
        number: String,
    },
}

/// A pending email/SMS verification (in memory only: its code lives in the outbox).
#[derive(Debug)]
struct OtpVerification {
    channel: Channel,
    target: OtpTarget,
    code: Secret,
    created_at_ms: i64,
    wrong_attempts: u32,
    locked: bool,
}

/// The device-signature headers of one request.
#[derive(Debug, Clone)]
pub(crate) struct DeviceSignature {
    pub nonce: String,
    pub public_key_hex: String,
    pub signature_hex: String,
}

/// The claims of a customer's external-auth assertion.
#[derive(Debug, Deserialize)]
struct ExternalAssertion {
    #[serde(default)]
    sub: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    jti: String,
    #[serde(default)]
    exp: i64,
}

/// The machine codes of one OTP channel.
struct OtpCodes {
    wrong: &'static str,
    invalid: &'static str,
    too_many: &'static str,
    noun: &'static str,
}

fn otp_codes(channel: Channel) -> OtpCodes {
    match channel {
        Channel::Email => OtpCodes {
            wrong: codes::WRONG_EMAIL_VERIFICATION_TOKEN,
            invalid: codes::INVALID_EMAIL_VERIFICATION,
            too_many: codes::TOO_MANY_EMAIL_VERIFICATION_ATTEMPTS,
            noun: "email",
        },
        Channel::Sms => OtpCodes {
            wrong: codes::WRONG_SMS_VERIFICATION_TOKEN,
            invalid: codes::INVALID_SMS_VERIFICATION,
            too_many: codes::TOO_MANY_SMS_VERIFICATION_ATTEMPTS,
            noun: "SMS",
        },
    }
}

/// The state and rules of one environment.
pub(crate) struct Authority {
    env: String,
    clock: Arc<dyn Clock>,
    policies: BTreeMap<String, TokenPolicy>,
    require_device_signature: bool,
    external_auth_key: Option<VerifyingKey>,
    print_codes: bool,
    state_path: Option<PathBuf>,
    state: PersistedState,
    signing_key: SigningKey,
    /// Issued, unused nonces → issue time (ms).
    nonces: HashMap<String, i64>,
    verifications: HashMap<String, OtpVerification>,
    outbox: VecDeque<OutboxMessage>,
    /// The demo user's plaintext recovery codes not used yet (memory only).
    demo_recovery_codes: Vec<Secret>,
    /// The passkey relying party (rp id and the one accepted origin).
    webauthn: webauthn_rs::prelude::Webauthn,
    /// The passkey rp id, as configured.
    passkey_rp_id: String,
    /// Pending passkey ceremonies by challenge (memory only: they live 60 s).
    ceremonies: HashMap<String, Ceremony>,
}

/// Validates and normalises an email address.
pub(crate) fn normalize_email(email: &str) -> Result<String, String> {
    let email = email.trim();
    if email.is_empty() || email.len() > MAX_EMAIL_LEN {
        return Err(format!(
            "an email address has 1 to {MAX_EMAIL_LEN} characters"
        ));
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("an email address needs an @".into());
    };
    let ok_chars = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_graphic() && c != '@' && c != '"' && c != ':')
    };
    if local.is_empty()
        || local.len() > 64
        || domain.len() < 3
        || !domain.contains('.')
        || !ok_chars(local)
        || !ok_chars(domain)
    {
        return Err("this is not a valid email address".into());
    }
    Ok(email.to_ascii_lowercase())
}

/// Validates a phone number; returns (country code, ISO, national digits).
pub(crate) fn normalize_phone(
    country_code: &str,
    iso: &str,
    number: &str,
) -> Result<(String, String, String), String> {
    let cc = country_code.trim().trim_start_matches('+');
    if cc.is_empty() || cc.len() > 4 || !cc.chars().all(|c| c.is_ascii_digit()) {
        return Err("phoneCountryCode is 1 to 4 digits, without +".into());
    }
    let iso = iso.trim();
    if iso.len() != 2 || !iso.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err("isoCountryCode is two letters (US, GB ...)".into());
    }
    if number.len() > 32
        || !number
            .chars()
            .all(|c| c.is_ascii_digit() || " -().".contains(c))
    {
        return Err("phoneNumber has only digits (and spaces or dashes)".into());
    }
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if !(4..=15).contains(&digits.len()) {
        return Err("phoneNumber has 4 to 15 digits".into());
    }
    Ok((cc.to_owned(), iso.to_ascii_uppercase(), digits))
}

fn bounded(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.is_empty() {
        return Err(ApiError::invalid_request(format!("{field} is empty")));
    }
    if value.len() > max {
        return Err(ApiError::invalid_request(format!(
            "{field} is longer than {max} characters"
        )));
    }
    Ok(())
}

/// Shortens a hostile string before it is echoed in an error.
fn shown(s: &str) -> String {
    let short: String = s.chars().take(64).collect();
    if short.len() < s.len() {
        format!("{short}…")
    } else {
        short
    }
}

/// Unix milliseconds → RFC 3339 (UTC), without a date crate.
pub(crate) fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

impl Authority {
    /// Builds the authority: loads the state file (or starts a new one) and seeds the demo user.
    pub(crate) fn new(config: &SandboxConfig) -> Result<Self, SandboxError> {
        if config.environment_id.is_empty()
            || config.environment_id.len() > MAX_ID_LEN
            || config.environment_id.contains('/')
        {
            return Err(SandboxError::Config(
                "environment_id must be 1 to 128 characters without '/'".into(),
            ));
        }
        for (scope, policy) in &config.token_policies {
            if policy.ttl_secs <= 0 || scope.is_empty() || scope.contains(' ') {
                return Err(SandboxError::Config(format!(
                    "token policy for {scope:?} needs a positive ttl and a scope without spaces"
                )));
            }
        }
        let loaded = match &config.state_path {
            Some(path) => store::load(path)?,
            None => None,
        };
        let state = match loaded {
            Some(s) if s.environment_id != config.environment_id => {
                return Err(SandboxError::EnvironmentMismatch {
                    expected: config.environment_id.clone(),
                    found: s.environment_id,
                });
            }
            Some(s) => s,
            None => {
                let key = crypto::new_signing_key();
                PersistedState::new(
                    &config.environment_id,
                    Secret::new(hex::encode(key.to_bytes())),
                )
            }
        };
        let key_bytes = hex::decode(state.signing_key.expose()).ok();
        let signing_key = key_bytes
            .and_then(|b| SigningKey::from_slice(&b).ok())
            .ok_or_else(|| SandboxError::LoadState {
                path: config
                    .state_path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                reason: "the signing key in the state file is not a P-256 scalar".into(),
            })?;
        let webauthn = passkeys::relying_party(&config.passkey_rp_id, &config.passkey_origin)?;
        let mut authority = Self {
            env: config.environment_id.clone(),
            clock: config.clock.clone(),
            policies: config.token_policies.clone(),
            require_device_signature: config.require_device_signature,
            external_auth_key: config.external_auth_key,
            print_codes: config.print_codes,
            state_path: config.state_path.clone(),
            state,
            signing_key,
            nonces: HashMap::new(),
            verifications: HashMap::new(),
            outbox: VecDeque::new(),
            demo_recovery_codes: Vec::new(),
            webauthn,
            passkey_rp_id: config.passkey_rp_id.clone(),
            ceremonies: HashMap::new(),
        };
        if config.seed_demo {
            authority.seed_demo()?;
        }
        authority.save()?;
        Ok(authority)
    }

    fn now_ms(&self) -> i64 {
        self.clock.now_millis()
    }

    fn now_secs(&self) -> i64 {
        self.clock.now_secs()
    }

    fn save(&mut self) -> Result<(), SandboxError> {
        let now = self.now_secs();
        self.state.sessions.retain(|_, s| s.expires_at > now);
        self.state.used_token_jtis.retain(|_, exp| *exp > now);
        self.state.used_external_jtis.retain(|_, exp| *exp > now);
        match &self.state_path {
            Some(path) => store::save(path, &self.state),
            None => Ok(()),
        }
    }

    /// Persists after a mutation; a write failure becomes a 500 that names no secret.
    fn persist(&mut self) -> Result<(), ApiError> {
        self.save().map_err(|e| {
            tracing::error!(error = %e, "state not saved");
            ApiError::internal("the sandbox could not save its state")
        })
    }

    // ------------------------------------------------------------ policies and tokens

    /// The policy of a scope: the configured override, else the default for a known scope.
    /// `None` means the scope is unknown.
    pub(crate) fn policy_for(&self, scope: &str) -> Option<TokenPolicy> {
        if let Some(p) = self.policies.get(scope) {
            return Some(*p);
        }
        TokenScope::parse(scope)
            .is_known()
            .then(|| TokenPolicy::default_for(scope))
    }

    /// Checks `requestedScopes`; every scope must be known. Returns them as strings.
    fn validate_scopes(&self, scopes: Option<&[TokenScope]>) -> Result<Vec<String>, ApiError> {
        let scopes = scopes.unwrap_or_default();
        if scopes.len() > MAX_SCOPES {
            return Err(ApiError::unprocessable(
                codes::INVALID_SCOPES,
                format!("at most {MAX_SCOPES} scopes can be requested"),
            ));
        }
        let mut out = Vec::with_capacity(scopes.len());
        for scope in scopes {
            if self.policy_for(scope.as_str()).is_none() {
                return Err(ApiError::unprocessable(
                    codes::INVALID_SCOPES,
                    format!("unknown scope {:?}", shown(scope.as_str())),
                ));
            }
            out.push(scope.as_str().to_owned());
        }
        Ok(out)
    }

    /// Signs an elevated token for `scopes` (already validated, non-empty).
    fn mint_elevated(&self, user_id: &str, scopes: &[String]) -> Result<Secret, ApiError> {
        let policies: Vec<TokenPolicy> = scopes.iter().filter_map(|s| self.policy_for(s)).collect();
        let single_use = policies.iter().any(|p| p.single_use);
        let ttl = policies.iter().map(|p| p.ttl_secs).min().unwrap_or(300);
        let now = self.now_secs();
        let claims = ElevatedTokenClaims {
            sub: user_id.to_owned(),
            scope: scope_set_key(scopes),
            exp: now + ttl,
            iat: now,
            jti: crypto::new_id(),
            single_use: Some(single_use),
        };
        jwt::sign_es256(&self.signing_key, Some(KEY_ID), &claims)
            .map(Secret::new)
            .map_err(|_| ApiError::internal("the sandbox could not sign a token"))
    }

    /// Accepts the elevated token of a scope-protected call, consuming it if single-use.
    pub(crate) fn require_elevated(
        &mut self,
        ctx: &SessionCtx,
        scope: &str,
        token: Option<&str>,
    ) -> Result<(), ApiError> {
        match self.policy_for(scope) {
            Some(p) if !p.required => return Ok(()),
            _ => {}
        }
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(ApiError::step_up_required(
                scope,
                "no elevated access token was sent",
            ));
        };
        let claims: ElevatedTokenClaims =
            jwt::verify_es256(token, self.signing_key.verifying_key()).map_err(|_| {
                ApiError::step_up_required(scope, "the elevated access token is not valid")
            })?;
        if claims.exp <= self.now_secs() {
            return Err(ApiError::step_up_required(
                scope,
                "the elevated access token has expired",
            ));
        }
        if claims.sub != ctx.user_id {
            return Err(ApiError::step_up_required(
                scope,
                "the elevated access token belongs to another user",
            ));
        }
        if !split_scope_claim(&claims.scope).iter().any(|s| s == scope) {
            return Err(ApiError::step_up_required(
                scope,
                "the elevated access token does not cover this scope",
            ));
        }
        if claims.single_use == Some(true) {
            if claims.jti.is_empty() || self.state.used_token_jtis.contains_key(&claims.jti) {
                return Err(ApiError::step_up_required(
                    scope,
                    "the single-use elevated access token was already used",
                ));
            }
            self.state.used_token_jtis.insert(claims.jti, claims.exp);
            self.persist()?;
        }
        Ok(())
    }

    // ------------------------------------------------------------ sessions

    /// Checks a session JWT.
    pub(crate) fn authenticate(&self, bearer: Option<&str>) -> Result<SessionCtx, ApiError> {
        let token = bearer.ok_or_else(|| {
            ApiError::unauthorized("sign in first: no Authorization: Bearer session token")
        })?;
        let claims: SessionClaims = jwt::verify_es256(token, self.signing_key.verifying_key())
            .map_err(|_| ApiError::unauthorized("the session token is not valid"))?;
        if claims.environment_id != self.env {
            return Err(ApiError::unauthorized(
                "the session token belongs to another environment",
            ));
        }
        if claims.exp <= self.now_secs() {
            return Err(ApiError::unauthorized(
                "the session has expired: sign in again",
            ));
        }
        match self.state.sessions.get(&claims.sid) {
            Some(s) if s.user_id == claims.sub && s.expires_at > self.now_secs() => {
                Ok(SessionCtx {
                    user_id: claims.sub,
                    sid: claims.sid,
                })
            }
            _ => Err(ApiError::unauthorized(
                "this session has ended (rotated, revoked or expired): use the latest token",
            )),
        }
    }

    /// Opens a new session, ending `replacing` if given. Returns the new `sid`.
    fn open_session(
        &mut self,
        user_id: &str,
        signin_credential_id: Option<String>,
        replacing: Option<&str>,
    ) -> String {
        if let Some(old) = replacing {
            self.state.sessions.remove(old);
        }
        let sid = crypto::new_id();
        let expires_at = self.now_secs() + SESSION_TTL_SECS;
        self.state.sessions.insert(
            sid.clone(),
            SessionRecord {
                user_id: user_id.to_owned(),
                signin_credential_id,
                expires_at,
            },
        );
        sid
    }

    /// Rotates the caller's session, keeping its sign-in credential.
    fn rotate(&mut self, ctx: &SessionCtx) -> String {
        let signin = self
            .state
            .sessions
            .get(&ctx.sid)
            .and_then(|s| s.signin_credential_id.clone());
        self.open_session(&ctx.user_id, signin, Some(&ctx.sid))
    }

    /// The VerifyResponse of session `sid`.
    fn verify_response(
        &self,
        sid: &str,
        elevated: Option<Secret>,
        next_view: Option<&str>,
    ) -> Result<VerifyResponse, ApiError> {
        let session = self
            .state
            .sessions
            .get(sid)
            .ok_or_else(|| ApiError::internal("the new session is missing"))?;
        let claims = SessionClaims {
            sub: session.user_id.clone(),
            sid: sid.to_owned(),
            environment_id: self.env.clone(),
            exp: session.expires_at,
            iat: self.now_secs(),
            scope: Some(SESSION_SCOPE.into()),
        };
        let token = jwt::sign_es256(&self.signing_key, Some(KEY_ID), &claims)
            .map_err(|_| ApiError::internal("the sandbox could not sign a session"))?;
        let user = self.sdk_user(&session.user_id, Some(sid))?;
        Ok(VerifyResponse {
            user,
            expires_at: session.expires_at,
            jwt: Some(Secret::new(token.clone())),
            minified_jwt: Some(Secret::new(token)),
            mfa_token: None,
            elevated_access_token: elevated,
            next_view: next_view.map(str::to_owned),
        })
    }

    fn user(&self, user_id: &str) -> Result<&UserRecord, ApiError> {
        self.state
            .users
            .get(user_id)
            .ok_or_else(|| ApiError::unauthorized("the session's user no longer exists"))
    }

    fn user_mut(&mut self, user_id: &str) -> Result<&mut UserRecord, ApiError> {
        self.state
            .users
            .get_mut(user_id)
            .ok_or_else(|| ApiError::unauthorized("the session's user no longer exists"))
    }

    /// The SdkUser view of a user.
    pub(crate) fn sdk_user(&self, user_id: &str, sid: Option<&str>) -> Result<SdkUser, ApiError> {
        let u = self.user(user_id)?;
        let blank = |id: &str, format: CredentialFormat| JwtVerifiedCredential {
            id: id.to_owned(),
            format,
            sign_in_enabled: true,
            address: None,
            chain: None,
            email: None,
            phone_number: None,
            public_identifier: None,
            wallet_name: None,
            wallet_provider: None,
            oauth_provider: None,
            oauth_username: None,
            oauth_account_id: None,
            embedded_wallet_id: None,
        };
        let mut creds = Vec::new();
        if let Some(e) = &u.email {
            let mut c = blank(&e.credential_id, CredentialFormat::Email);
            c.email = Some(e.address.clone());
            c.public_identifier = Some(e.address.clone());
            creds.push(c);
        }
        if let Some(p) = &u.phone {
            let mut c = blank(&p.credential_id, CredentialFormat::PhoneNumber);
            c.phone_number = Some(p.number.clone());
            c.public_identifier = Some(format!("+{}{}", p.country_code, p.number));
            creds.push(c);
        }
        for w in &u.wallets {
            let mut c = blank(&w.credential_id, CredentialFormat::Blockchain);
            c.sign_in_enabled = false;
            c.address = Some(w.address.clone());
            c.chain = Some("EVM".into());
            c.public_identifier = Some(w.address.clone());
            c.wallet_name = Some("dynamicwaas".into());
            c.wallet_provider = Some("embeddedWallet".into());
            c.embedded_wallet_id = Some(w.id.clone());
            creds.push(c);
        }
        Ok(SdkUser {
            id: u.id.clone(),
            environment_id: Some(self.env.clone()),
            email: u.email.as_ref().map(|e| e.address.clone()),
            phone_number: u.phone.as_ref().map(|p| p.number.clone()),
            session_id: sid.map(str::to_owned),
            scope: Some(SESSION_SCOPE.into()),
            verified_credentials: creds,
        })
    }

    /// `POST refresh`: a new session for the same user.
    pub(crate) fn refresh(&mut self, ctx: &SessionCtx) -> Result<VerifyResponse, ApiError> {
        let sid = self.rotate(ctx);
        self.persist()?;
        self.verify_response(&sid, None, None)
    }

    /// `POST revoke`: ends the session.
    pub(crate) fn revoke(&mut self, ctx: &SessionCtx) -> Result<(), ApiError> {
        self.state.sessions.remove(&ctx.sid);
        self.persist()
    }

    // ------------------------------------------------------------ nonces and device signatures

    /// Issues `count` single-use nonces.
    pub(crate) fn issue_nonces(&mut self, count: usize) -> Vec<String> {
        let now = self.now_ms();
        self.nonces.retain(|_, at| now - *at < NONCE_TTL_MS);
        if self.nonces.len() + count > MAX_NONCES {
            // Forget the oldest: a client that hoards nonces loses them first.
            let mut by_age: Vec<(String, i64)> = self.nonces.drain().collect();
            by_age.sort_by_key(|(_, at)| std::cmp::Reverse(*at));
            by_age.truncate(MAX_NONCES.saturating_sub(count));
            self.nonces = by_age.into_iter().collect();
        }
        (0..count)
            .map(|_| {
                let n = hex::encode(crypto::random_bytes::<16>());
                self.nonces.insert(n.clone(), now);
                n
            })
            .collect()
    }

    /// Checks the `x-dynamic-device-*` headers of a device-signed path.
    pub(crate) fn check_device_signature(
        &mut self,
        sig: Option<DeviceSignature>,
    ) -> Result<(), ApiError> {
        let invalid = |why: &str| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                codes::INVALID_DEVICE_SIGNATURE,
                format!("invalid device signature: {why}"),
            )
        };
        let Some(sig) = sig else {
            return if self.require_device_signature {
                Err(invalid(
                    "the x-dynamic-device-nonce, -publickey and -signed-nonce headers are required",
                ))
            } else {
                Ok(())
            };
        };
        let now = self.now_ms();
        match self.nonces.remove(&sig.nonce) {
            Some(at) if now - at < NONCE_TTL_MS => {}
            _ => {
                return Err(invalid(
                    "the nonce was not issued by this server, or was already used",
                ))
            }
        }
        let key_bytes =
            hex::decode(&sig.public_key_hex).map_err(|_| invalid("the public key is not hex"))?;
        if key_bytes.len() != 33 {
            return Err(invalid("the public key is not a compressed P-256 point"));
        }
        let key = VerifyingKey::from_sec1_bytes(&key_bytes)
            .map_err(|_| invalid("the public key is not a P-256 point"))?;
        let sig_bytes =
            hex::decode(&sig.signature_hex).map_err(|_| invalid("the signature is not hex"))?;
        let signature = Signature::from_slice(&sig_bytes)
            .map_err(|_| invalid("the signature is not 64 bytes r‖s"))?;
        key.verify(sig.nonce.as_bytes(), &signature)
            .map_err(|_| invalid("the signature does not verify"))
    }

    // ------------------------------------------------------------ email / SMS codes

    fn deliver(&mut self, channel: Channel, target: OtpTarget) -> String {
        let now = self.now_ms();
        self.verifications
            .retain(|_, v| now - v.created_at_ms < OTP_TTL_MS);
        if self.verifications.len() >= MAX_VERIFICATIONS {
            let oldest = self
                .verifications
                .iter()
                .min_by_key(|(_, v)| v.created_at_ms)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.verifications.remove(&k);
            }
        }
        let uuid = crypto::new_id();
        let code = crypto::otp_code();
        let to = match &target {
            OtpTarget::Email(e) => e.clone(),
            OtpTarget::Phone {
                country_code,
                number,
                ..
            } => format!("+{country_code}{number}"),
        };
        if self.print_codes {
            // The standalone sandbox's delivery channel: the terminal. Never a tracing event.
            eprintln!(
                "[stepup-sandbox] {} code for {to}: {}",
                otp_codes(channel).noun,
                code.expose()
            );
        }
        self.outbox.push_back(OutboxMessage {
            channel,
            to,
            code: code.clone(),
            verification_uuid: uuid.clone(),
            created_at_ms: now,
        });
        while self.outbox.len() > OUTBOX_CAP {
            self.outbox.pop_front();
        }
        self.verifications.insert(
            uuid.clone(),
            OtpVerification {
                channel,
                target,
                code,
                created_at_ms: now,
                wrong_attempts: 0,
                locked: false,
            },
        );
        uuid
    }

    /// `POST emailVerifications/create`.
    pub(crate) fn create_email_verification(
        &mut self,
        email: &str,
    ) -> Result<EmailVerificationCreateResponse, ApiError> {
        let email =
            normalize_email(email).map_err(|e| ApiError::unprocessable(codes::INVALID_EMAIL, e))?;
        let uuid = self.deliver(Channel::Email, OtpTarget::Email(email.clone()));
        Ok(EmailVerificationCreateResponse {
            verification_uuid: uuid,
            email,
        })
    }

    /// `POST smsVerifications/create`.
    pub(crate) fn create_sms_verification(
        &mut self,
        req: &SmsVerificationCreateRequest,
    ) -> Result<SmsVerificationCreateResponse, ApiError> {
        let (country_code, iso_country_code, number) = normalize_phone(
            &req.phone_country_code,
            &req.iso_country_code,
            &req.phone_number,
        )
        .map_err(|e| ApiError::unprocessable(codes::INVALID_PHONE, e))?;
        let target = OtpTarget::Phone {
            country_code: country_code.clone(),
            iso_country_code: iso_country_code.clone(),
            number: number.clone(),
        };
        let uuid = self.deliver(Channel::Sms, target);
        Ok(SmsVerificationCreateResponse {
            verification_uuid: uuid,
            phone_number: number,
            phone_country_code: country_code,
            iso_country_code,
        })
    }

    /// Checks an email/SMS code. `owner` (step-up) must match the verification's target; a
    /// mismatch consumes nothing. Success consumes the verification.
    fn consume_otp(
        &mut self,
        channel: Channel,
        uuid: &str,
        token: &Secret,
        owner: Option<&OtpTarget>,
    ) -> Result<OtpTarget, ApiError> {
        let c = otp_codes(channel);
        bounded("verificationUUID", uuid, MAX_ID_LEN)?;
        bounded("verificationToken", token.expose(), MAX_CODE_LEN)?;
        let now = self.now_ms();
        let invalid = || {
            ApiError::unprocessable(
                c.invalid,
                format!(
                    "this {} verification is unknown, expired or already used: ask for a new code",
                    c.noun
                ),
            )
        };
        let Some(v) = self.verifications.get_mut(uuid) else {
            return Err(invalid());
        };
        if v.channel != channel {
            return Err(invalid());
        }
        if v.locked {
            return Err(ApiError::unprocessable(
                c.too_many,
                format!("too many wrong {} codes: ask for a new code", c.noun),
            ));
        }
        if now - v.created_at_ms >= OTP_TTL_MS {
            self.verifications.remove(uuid);
            return Err(invalid());
        }
        if let Some(owner) = owner {
            let matches = match (owner, &v.target) {
                (OtpTarget::Email(a), OtpTarget::Email(b)) => a == b,
                (
                    OtpTarget::Phone {
                        country_code: a,
                        number: n,
                        ..
                    },
                    OtpTarget::Phone {
                        country_code: b,
                        number: m,
                        ..
                    },
                ) => a == b && n == m,
                _ => false,
            };
            if !matches {
                return Err(ApiError::unprocessable(
                    c.invalid,
                    format!(
                        "this code was sent to another {} than the signed-in user's",
                        c.noun
                    ),
                ));
            }
        }
        if !crypto::ct_eq(v.code.expose().as_bytes(), token.expose().trim().as_bytes()) {
            v.wrong_attempts += 1;
            if v.wrong_attempts >= OTP_MAX_WRONG {
                v.locked = true;
                return Err(ApiError::unprocessable(
                    c.too_many,
                    format!("too many wrong {} codes: ask for a new code", c.noun),
                ));
            }
            let remaining = OTP_MAX_WRONG - v.wrong_attempts;
            return Err(ApiError::unprocessable(
                c.wrong,
                format!("wrong {} code: {remaining} attempts left", c.noun),
            )
            .with_payload(serde_json::json!({ "remainingAttempts": remaining })));
        }
        let target = v.target.clone();
        self.verifications.remove(uuid);
        Ok(target)
    }

    fn find_user_by_target(&self, target: &OtpTarget) -> Option<String> {
        self.state
            .users
            .values()
            .find(|u| match target {
                OtpTarget::Email(e) => u.email.as_ref().is_some_and(|x| &x.address == e),
                OtpTarget::Phone {
                    country_code,
                    number,
                    ..
                } => u
                    .phone
                    .as_ref()
                    .is_some_and(|p| &p.country_code == country_code && &p.number == number),
            })
            .map(|u| u.id.clone())
    }

    fn has_mfa(&self, user_id: &str) -> bool {
        self.state
            .users
            .get(user_id)
            .is_some_and(|u| u.mfa_devices.iter().any(|d| d.verified) || !u.passkeys.is_empty())
    }

    /// `POST emailVerifications/signin` / `smsVerifications/signin`: signs in, creating the
    /// user on first sign-in.
    pub(crate) fn otp_sign_in(
        &mut self,
        channel: Channel,
        req: &OtpSignInRequest,
    ) -> Result<VerifyResponse, ApiError> {
        let target = self.consume_otp(
            channel,
            &req.verification_uuid,
            &req.verification_token,
            None,
        )?;
        let user_id = match self.find_user_by_target(&target) {
            Some(id) => id,
            None => {
                let id = crypto::new_id();
                let (email, phone) = match &target {
                    OtpTarget::Email(e) => (
                        Some(EmailRecord {
                            credential_id: crypto::new_id(),
                            address: e.clone(),
                        }),
                        None,
                    ),
                    OtpTarget::Phone {
                        country_code,
                        iso_country_code,
                        number,
                    } => (
                        None,
                        Some(PhoneRecord {
                            credential_id: crypto::new_id(),
                            country_code: country_code.clone(),
                            iso_country_code: iso_country_code.clone(),
                            number: number.clone(),
                        }),
                    ),
                };
                let user = UserRecord {
                    id: id.clone(),
                    created_at_ms: self.now_ms(),
                    email,
                    phone,
                    mfa_devices: Vec::new(),
                    recovery_codes: Vec::new(),
                    wallets: Vec::new(),
                    mfa_failures_ms: Vec::new(),
                    passkeys: Vec::new(),
                };
                self.state.users.insert(id.clone(), user);
                id
            }
        };
        let user = self.user(&user_id)?;
        let credential = match target {
            OtpTarget::Email(_) => user.email.as_ref().map(|e| e.credential_id.clone()),
            OtpTarget::Phone { .. } => user.phone.as_ref().map(|p| p.credential_id.clone()),
        };
        let sid = self.open_session(&user_id, credential, None);
        let elevated = if req.allow_new_mfa_linking == Some(true) && !self.has_mfa(&user_id) {
            Some(self.mint_elevated(&user_id, &[TokenScope::CredentialLink.as_str().to_owned()])?)
        } else {
            None
        };
        self.persist()?;
        self.verify_response(&sid, elevated, None)
    }

    /// `POST emailVerifications/verify` / `smsVerifications/verify`: step-up with a code sent
    /// to the signed-in user's own email or phone.
    pub(crate) fn otp_verify(
        &mut self,
        ctx: &SessionCtx,
        channel: Channel,
        req: &OtpVerifyRequest,
    ) -> Result<VerifyResponse, ApiError> {
        let scopes = self.validate_scopes(req.requested_scopes.as_deref())?;
        if !scopes.is_empty() && self.has_mfa(&ctx.user_id) {
            return Err(ApiError::unprocessable(
                codes::INVALID_SCOPES,
                "this user has MFA: step up with an MFA method (TOTP, passkey or recovery code)",
            ));
        }
        let user = self.user(&ctx.user_id)?;
        let owner = match channel {
            Channel::Email => user
                .email
                .as_ref()
                .map(|e| OtpTarget::Email(e.address.clone())),
            Channel::Sms => user.phone.as_ref().map(|p| OtpTarget::Phone {
                country_code: p.country_code.clone(),
                iso_country_code: p.iso_country_code.clone(),
                number: p.number.clone(),
            }),
        };
        let Some(owner) = owner else {
            let c = otp_codes(channel);
            return Err(ApiError::unprocessable(
                c.invalid,
                format!("the signed-in user has no {} to verify", c.noun),
            ));
        };
        self.consume_otp(
            channel,
            &req.verification_uuid,
            &req.verification_token,
            Some(&owner),
        )?;
        let sid = self.rotate(ctx);
        let elevated = if scopes.is_empty() {
            None
        } else {
            Some(self.mint_elevated(&ctx.user_id, &scopes)?)
        };
        self.persist()?;
        self.verify_response(&sid, elevated, Some("done"))
    }

    // ------------------------------------------------------------ step-up check

    /// `POST stepUp/check`.
    pub(crate) fn step_up_check(
        &self,
        ctx: &SessionCtx,
        scope: &TokenScope,
    ) -> Result<StepUpCheck, ApiError> {
        let policy = self.policy_for(scope.as_str()).ok_or_else(|| {
            ApiError::unprocessable(
                codes::INVALID_SCOPES,
                format!("unknown scope {:?}", shown(scope.as_str())),
            )
        })?;
        if !policy.required {
            return Ok(StepUpCheck::satisfied());
        }
        let user = self.user(&ctx.user_id)?;
        // MFA devices, TOTP and passkeys alike: (credential, default flag, created at).
        let devices: Vec<(StepUpCredential, bool, i64)> = user
            .mfa_devices
            .iter()
            .filter(|d| d.verified)
            .map(|d| {
                let credential = StepUpCredential {
                    id: d.id.clone(),
                    format: CredentialFormat::Totp,
                    kind: Some("totp".into()),
                    alias: d.alias.clone(),
                };
                (credential, d.default, d.created_at_ms)
            })
            .chain(
                user.passkeys
                    .iter()
                    .map(|p| (passkey_credential(p), p.default, p.created_at_ms)),
            )
            .collect();
        if !devices.is_empty() {
            let default = devices
                .iter()
                .find(|d| d.1)
                .or_else(|| devices.iter().rev().max_by_key(|d| d.2))
                .map(|d| d.0.id.clone());
            let credentials = devices.into_iter().map(|d| d.0).collect();
            return Ok(StepUpCheck {
                is_required: true,
                credentials,
                default_credential_id: default,
            });
        }
        let mut credentials = Vec::new();
        if let Some(e) = &user.email {
            credentials.push(StepUpCredential {
                id: e.credential_id.clone(),
                format: CredentialFormat::Email,
                kind: None,
                alias: Some(crypto::mask_email(&e.address)),
            });
        }
        if let Some(p) = &user.phone {
            credentials.push(StepUpCredential {
                id: p.credential_id.clone(),
                format: CredentialFormat::PhoneNumber,
                kind: None,
                alias: Some(crypto::mask_phone(&p.country_code, &p.number)),
            });
        }
        let signin = self
            .state
            .sessions
            .get(&ctx.sid)
            .and_then(|s| s.signin_credential_id.clone());
        let default = signin
            .filter(|id| credentials.iter().any(|c| &c.id == id))
            .or_else(|| credentials.first().map(|c| c.id.clone()));
        Ok(StepUpCheck {
            is_required: true,
            credentials,
            default_credential_id: default,
        })
    }

    // ------------------------------------------------------------ MFA

    /// Refuses while the user has too many recent wrong MFA codes.
    fn mfa_guard(&mut self, user_id: &str) -> Result<(), ApiError> {
        let now = self.now_ms();
        let user = self.user_mut(user_id)?;
        user.mfa_failures_ms.retain(|t| now - *t < MFA_WINDOW_MS);
        if user.mfa_failures_ms.len() >= MFA_MAX_FAILURES {
            let oldest = user.mfa_failures_ms.iter().min().copied().unwrap_or(now);
            let retry = (oldest + MFA_WINDOW_MS - now).div_euclid(1000) + 1;
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                codes::MFA_RATE_LIMITED,
                format!("too many wrong MFA codes: try again in {retry} s"),
            )
            .with_payload(serde_json::json!({ "retryAfterSecs": retry })));
        }
        Ok(())
    }

    /// Records a wrong MFA code and returns the error to send.
    fn mfa_failed(&mut self, user_id: &str) -> ApiError {
        let now = self.now_ms();
        if let Ok(user) = self.user_mut(user_id) {
            user.mfa_failures_ms.push(now);
        }
        if let Err(e) = self.persist() {
            return e;
        }
        ApiError::unprocessable(codes::MFA_INVALID_CODE, "invalid code")
    }

    /// Finds the TOTP device a code is for: `id`, else the default, else the newest verified.
    fn pick_totp_device(&self, user_id: &str, id: Option<&str>) -> Result<usize, ApiError> {
        let user = self.user(user_id)?;
        let not_found = || {
            ApiError::unprocessable(
                codes::MFA_DEVICE_NOT_FOUND,
                "no such TOTP device for this user",
            )
        };
        match id {
            Some(id) => user
                .mfa_devices
                .iter()
                .position(|d| d.id == id)
                .ok_or_else(not_found),
            None => user
                .mfa_devices
                .iter()
                .position(|d| d.verified && d.default)
                .or_else(|| {
                    user.mfa_devices
                        .iter()
                        .enumerate()
                        .filter(|(_, d)| d.verified)
                        .max_by_key(|(i, d)| (d.created_at_ms, *i))
                        .map(|(i, _)| i)
                })
                .ok_or_else(not_found),
        }
    }

    /// Checks a TOTP code on device `index`, refusing replays; marks a pending device verified.
    fn accept_totp(&mut self, user_id: &str, index: usize, code: &Secret) -> Result<(), ApiError> {
        let now_secs = self.now_secs();
        let now_ms = self.now_ms();
        let device = self
            .user(user_id)?
            .mfa_devices
            .get(index)
            .ok_or_else(|| ApiError::internal("device vanished"))?;
        match crypto::totp_match(
            device.secret_base32.expose(),
            code.expose().trim(),
            now_secs,
            device.last_step,
        ) {
            Some(step) => {
                let user = self.user_mut(user_id)?;
                if let Some(d) = user.mfa_devices.get_mut(index) {
                    d.last_step = Some(step);
                    if !d.verified {
                        d.verified = true;
                        d.verified_at_ms = Some(now_ms);
                    }
                }
                Ok(())
            }
            None => Err(self.mfa_failed(user_id)),
        }
    }

    /// `POST users/mfa/auth/totp`.
    pub(crate) fn totp_auth(
        &mut self,
        ctx: &SessionCtx,
        req: &TotpAuthRequest,
    ) -> Result<VerifyResponse, ApiError> {
        bounded("code", req.code.expose(), MAX_CODE_LEN)?;
        if let Some(id) = &req.id {
            bounded("id", id, MAX_ID_LEN)?;
        }
        let scopes = self.validate_scopes(req.requested_scopes.as_deref())?;
        self.mfa_guard(&ctx.user_id)?;
        let index = self.pick_totp_device(&ctx.user_id, req.id.as_deref())?;
        self.accept_totp(&ctx.user_id, index, &req.code)?;
        let sid = self.rotate(ctx);
        let elevated = if scopes.is_empty() {
            None
        } else {
            Some(self.mint_elevated(&ctx.user_id, &scopes)?)
        };
        self.persist()?;
        self.verify_response(&sid, elevated, None)
    }

    /// `POST users/mfa/auth/recovery`.
    pub(crate) fn recovery_auth(
        &mut self,
        ctx: &SessionCtx,
        req: &RecoveryAuthRequest,
    ) -> Result<VerifyResponse, ApiError> {
        bounded("code", req.code.expose(), MAX_CODE_LEN)?;
        let scopes = self.validate_scopes(req.requested_scopes.as_deref())?;
        self.mfa_guard(&ctx.user_id)?;
        let typed = crypto::normalize_recovery_code(req.code.expose());
        let user = self.user_mut(&ctx.user_id)?;
        let hit = user
            .recovery_codes
            .iter_mut()
            .filter(|r| !r.used)
            .find(|r| {
                let salt = hex::decode(&r.salt).unwrap_or_default();
                crypto::ct_eq(
                    crypto::salted_hash(&salt, &typed).as_bytes(),
                    r.hash.as_bytes(),
                )
            });
        match hit {
            Some(r) => r.used = true,
            None => return Err(self.mfa_failed(&ctx.user_id)),
        }
        if self.state.demo_user_id.as_deref() == Some(ctx.user_id.as_str()) {
            self.demo_recovery_codes
                .retain(|c| crypto::normalize_recovery_code(c.expose()) != typed);
        }
        let sid = self.rotate(ctx);
        let elevated = if scopes.is_empty() {
            None
        } else {
            Some(self.mint_elevated(&ctx.user_id, &scopes)?)
        };
        self.persist()?;
        self.verify_response(&sid, elevated, None)
    }

    /// `GET users/mfa/register/totp` (after the `credential:link` check): a pending device.
    pub(crate) fn register_totp_start(
        &mut self,
        ctx: &SessionCtx,
    ) -> Result<TotpRegistration, ApiError> {
        let now = self.now_ms();
        let secret = crypto::new_totp_secret();
        let id = crypto::new_id();
        let user = self.user_mut(&ctx.user_id)?;
        let account = user
            .email
            .as_ref()
            .map(|e| e.address.clone())
            .unwrap_or_else(|| user.id.clone());
        user.mfa_devices.retain(|d| d.verified);
        user.mfa_devices.push(MfaDeviceRecord {
            id: id.clone(),
            secret_base32: secret.clone(),
            alias: Some(DEMO_TOTP_ALIAS.into()),
            verified: false,
            default: false,
            created_at_ms: now,
            verified_at_ms: None,
            last_step: None,
        });
        let label: String =
            url::form_urlencoded::byte_serialize(format!("Stepup Sandbox:{account}").as_bytes())
                .collect();
        let uri = format!("otpauth://totp/{label}?secret={}&issuer=Stepup%20Sandbox&algorithm=SHA1&digits=6&period=30", secret.expose());
        self.persist()?;
        Ok(TotpRegistration {
            id,
            kind: "totp".into(),
            secret,
            uri: Secret::new(uri),
        })
    }

    /// `POST users/mfa/register/totp`: confirms the pending device with a first code.
    pub(crate) fn register_totp_verify(
        &mut self,
        ctx: &SessionCtx,
        req: &TotpRegisterVerifyRequest,
    ) -> Result<MfaDevice, ApiError> {
        if req.kind != "totp" {
            return Err(ApiError::unprocessable(
                codes::MFA_INVALID_REQUEST,
                "only type \"totp\" can be registered here",
            ));
        }
        bounded("code", req.code.expose(), MAX_CODE_LEN)?;
        self.mfa_guard(&ctx.user_id)?;
        let index = self
            .user(&ctx.user_id)?
            .mfa_devices
            .iter()
            .rposition(|d| !d.verified)
            .ok_or_else(|| {
                ApiError::unprocessable(
                    codes::MFA_INVALID_REQUEST,
                    "no pending TOTP registration: call GET users/mfa/register/totp first",
                )
            })?;
        self.accept_totp(&ctx.user_id, index, &req.code)?;
        self.persist()?;
        let user = self.user(&ctx.user_id)?;
        user.mfa_devices
            .get(index)
            .map(mfa_device_view)
            .ok_or_else(|| ApiError::internal("device vanished"))
    }

    /// `GET users/mfa`.
    pub(crate) fn list_mfa(&self, ctx: &SessionCtx) -> Result<MfaDevicesResponse, ApiError> {
        let user = self.user(&ctx.user_id)?;
        let devices: Vec<MfaDevice> = user
            .mfa_devices
            .iter()
            .map(mfa_device_view)
            .chain(user.passkeys.iter().map(passkey_device_view))
            .collect();
        Ok(MfaDevicesResponse {
            count: u32::try_from(devices.len()).unwrap_or(u32::MAX),
            devices,
        })
    }

    /// `DELETE users/mfa/{id}` (after the `credential:unlink` check).
    pub(crate) fn delete_mfa(&mut self, ctx: &SessionCtx, id: &str) -> Result<(), ApiError> {
        let user = self.user_mut(&ctx.user_id)?;
        let before = user.mfa_devices.len() + user.passkeys.len();
        user.mfa_devices.retain(|d| d.id != id);
        user.passkeys.retain(|p| p.id != id);
        if user.mfa_devices.len() + user.passkeys.len() == before {
            return Err(ApiError::unprocessable(
                codes::MFA_DEVICE_NOT_FOUND,
                "no such MFA device for this user",
            ));
        }
        self.persist()
    }

    /// Checks that device `id` exists for the user (before any token is consumed).
    pub(crate) fn has_device(&self, ctx: &SessionCtx, id: &str) -> Result<(), ApiError> {
        let user = self.user(&ctx.user_id)?;
        if user.mfa_devices.iter().any(|d| d.id == id) || user.passkeys.iter().any(|p| p.id == id) {
            Ok(())
        } else {
            Err(ApiError::unprocessable(
                codes::MFA_DEVICE_NOT_FOUND,
                "no such MFA device for this user",
            ))
        }
    }

    /// `PUT users/mfa/{id}` `{default}`: marks (or unmarks) the default device.
    pub(crate) fn set_default_mfa(
        &mut self,
        ctx: &SessionCtx,
        id: &str,
        default: bool,
    ) -> Result<MfaDevice, ApiError> {
        self.has_device(ctx, id)?;
        let user = self.user_mut(&ctx.user_id)?;
        let flag = |this: &str, was: bool| if this == id { default } else { was && !default };
        for d in &mut user.mfa_devices {
            d.default = flag(&d.id, d.default);
        }
        for p in &mut user.passkeys {
            p.default = flag(&p.id, p.default);
        }
        let view = user
            .mfa_devices
            .iter()
            .find(|d| d.id == id)
            .map(mfa_device_view)
            .or_else(|| {
                user.passkeys
                    .iter()
                    .find(|p| p.id == id)
                    .map(passkey_device_view)
            });
        self.persist()?;
        view.ok_or_else(|| ApiError::internal("device vanished"))
    }

    // ------------------------------------------------------------ external auth

    /// `POST externalAuth/verify`: a customer-signed assertion becomes an elevated token.
    pub(crate) fn external_auth_verify(
        &mut self,
        ctx: &SessionCtx,
        assertion: &Secret,
    ) -> Result<ExternalAuthAssertionResponse, ApiError> {
        let invalid = |why: &str| {
            ApiError::unprocessable(
                codes::INVALID_EXTERNAL_AUTH,
                format!("invalid external auth assertion: {why}"),
            )
        };
        let key = self
            .external_auth_key
            .ok_or_else(|| invalid("external auth is not configured for this environment"))?;
        let claims: ExternalAssertion =
            jwt::verify_es256(assertion.expose(), &key).map_err(|e| invalid(&e.to_string()))?;
        let now = self.now_secs();
        if claims.exp <= now {
            return Err(invalid("it has expired (or has no exp)"));
        }
        if claims.sub != ctx.user_id {
            return Err(invalid("its sub is not the signed-in user"));
        }
        if claims.jti.is_empty() || claims.jti.len() > 256 {
            return Err(invalid("it needs a jti of 1 to 256 characters"));
        }
        if self.state.used_external_jtis.contains_key(&claims.jti) {
            return Err(invalid("its jti was already used"));
        }
        let scopes = split_scope_claim(&claims.scope);
        if scopes.is_empty() || scopes.len() > MAX_SCOPES {
            return Err(invalid("it needs a space-separated scope claim"));
        }
        if let Some(unknown) = scopes.iter().find(|s| self.policy_for(s).is_none()) {
            return Err(invalid(&format!("unknown scope {:?}", shown(unknown))));
        }
        self.state.used_external_jtis.insert(claims.jti, claims.exp);
        let token = self.mint_elevated(&ctx.user_id, &scopes)?;
        self.persist()?;
        Ok(ExternalAuthAssertionResponse {
            elevated_access_token: token,
        })
    }

    // ------------------------------------------------------------ wallets

    /// Checks that `wallet_id` is one of the user's wallets (before any token is consumed).
    pub(crate) fn own_wallet(&self, ctx: &SessionCtx, wallet_id: &str) -> Result<(), ApiError> {
        if self
            .user(&ctx.user_id)?
            .wallets
            .iter()
            .any(|w| w.id == wallet_id)
        {
            Ok(())
        } else {
            Err(ApiError::unprocessable(
                codes::INVALID_WALLET_ID,
                "this wallet is not one of the signed-in user's wallets",
            ))
        }
    }

    /// `POST waas/{walletId}/privateKey/export` (after the `wallet:export` check).
    pub(crate) fn export_key(
        &self,
        ctx: &SessionCtx,
        wallet_id: &str,
        req: &ExportPrivateKeyRequest,
    ) -> Result<ExportPrivateKeyResponse, ApiError> {
        let wallet = self
            .user(&ctx.user_id)?
            .wallets
            .iter()
            .find(|w| w.id == wallet_id)
            .ok_or_else(|| {
                ApiError::unprocessable(
                    codes::INVALID_WALLET_ID,
                    "this wallet is not one of the signed-in user's wallets",
                )
            })?;
        Ok(ExportPrivateKeyResponse {
            export_id: req.export_id.clone(),
            address: wallet.address.clone(),
            private_key: wallet.private_key.clone(),
        })
    }

    // ------------------------------------------------------------ settings

    /// `GET settings`: the smallest project settings the official SDK initialises against,
    /// plus the MFA methods and per-action token behaviour of this sandbox.
    pub(crate) fn settings(&self) -> serde_json::Value {
        let action = |action: &str, scope: &str| {
            let p = self
                .policy_for(scope)
                .unwrap_or_else(|| TokenPolicy::default_for(scope));
            serde_json::json!({
                "action": action,
                "required": p.required,
                "tokenBehavior": if p.single_use { "single_use" } else { "time_bound" },
                "tokenExpirySeconds": p.ttl_secs,
            })
        };
        serde_json::json!({
            "environmentId": self.env,
            "chains": [],
            "kyc": [],
            "design": {},
            "general": { "displayName": "Stepup Sandbox" },
            "privacy": {},
            "sdk": {},
            "providers": [],
            "security": {
                "mfa": {
                    "enabled": true,
                    "required": false,
                    "enrollment": "action",
                    "availableMethods": ["totp", "passkey"],
                    "methods": [
                        { "type": "totp", "enabled": true, "allowBackupCodes": true },
                        { "type": "passkey", "enabled": true, "allowBackupCodes": true },
                    ],
                    "actions": [
                        action("wallet.waas.export", "wallet:export"),
                        action("wallet.waas.sign", "wallet:sign"),
                    ],
                },
                "auth": { "storage": ["localstorage"] },
            },
        })
    }

    // ------------------------------------------------------------ sandbox-only views

    /// The outbox, oldest first.
    pub(crate) fn outbox(&self) -> Vec<OutboxMessage> {
        self.outbox.iter().cloned().collect()
    }

    /// The demo user, with its remaining plaintext recovery codes.
    pub(crate) fn demo(&self) -> Option<DemoUser> {
        let id = self.state.demo_user_id.as_ref()?;
        let user = self.state.users.get(id)?;
        let mut demo = demo_view(user);
        demo.recovery_codes = self.demo_recovery_codes.clone();
        demo.device_passkey_state = self.state.demo_passkey_state.clone();
        Some(demo)
    }

    /// The current TOTP code of a secret, with the sandbox clock.
    pub(crate) fn totp_now(&self, secret_base32: &str) -> Option<String> {
        crypto::totp_code_at(secret_base32, self.now_secs())
    }

    fn seed_demo(&mut self) -> Result<(), SandboxError> {
        if let Some(id) = &self.state.demo_user_id {
            if self.state.users.contains_key(id) {
                return Ok(());
            }
        }
        let spec = UserSpec {
            email: "demo@stepup.example".into(),
            phone: Some(("1".into(), "US".into(), "5550100".into())),
            totp: true,
            recovery_codes: true,
            wallet: true,
            passkey: true,
        };
        let demo = self.create_user(spec)?;
        self.state.demo_user_id = Some(demo.user_id.clone());
        self.state.demo_passkey_state = demo.device_passkey_state.clone();
        self.demo_recovery_codes = demo.recovery_codes;
        Ok(())
    }

    /// Creates a user directly (tests, demo).
    pub(crate) fn create_user(&mut self, spec: UserSpec) -> Result<DemoUser, SandboxError> {
        let email = normalize_email(&spec.email).map_err(SandboxError::InvalidUser)?;
        if self
            .find_user_by_target(&OtpTarget::Email(email.clone()))
            .is_some()
        {
            return Err(SandboxError::UserExists(email));
        }
        let phone = match &spec.phone {
            Some((cc, iso, number)) => {
                let (cc, iso, number) =
                    normalize_phone(cc, iso, number).map_err(SandboxError::InvalidUser)?;
                let target = OtpTarget::Phone {
                    country_code: cc.clone(),
                    iso_country_code: iso.clone(),
                    number: number.clone(),
                };
                if self.find_user_by_target(&target).is_some() {
                    return Err(SandboxError::UserExists(format!("+{cc}{number}")));
                }
                Some(PhoneRecord {
                    credential_id: crypto::new_id(),
                    country_code: cc,
                    iso_country_code: iso,
                    number,
                })
            }
            None => None,
        };
        let now = self.now_ms();
        let mut user = UserRecord {
            id: crypto::new_id(),
            created_at_ms: now,
            email: Some(EmailRecord {
                credential_id: crypto::new_id(),
                address: email,
            }),
            phone,
            mfa_devices: Vec::new(),
            recovery_codes: Vec::new(),
            wallets: Vec::new(),
            mfa_failures_ms: Vec::new(),
            passkeys: Vec::new(),
        };
        if spec.totp {
            user.mfa_devices.push(MfaDeviceRecord {
                id: crypto::new_id(),
                secret_base32: crypto::new_totp_secret(),
                alias: Some(DEMO_TOTP_ALIAS.into()),
                verified: true,
                default: false,
                created_at_ms: now,
                verified_at_ms: Some(now),
                last_step: None,
            });
        }
        let mut plaintext = Vec::new();
        if spec.recovery_codes {
            for _ in 0..RECOVERY_CODE_COUNT {
                let code = crypto::recovery_code();
                let salt = crypto::random_bytes::<16>();
                user.recovery_codes.push(RecoveryCodeRecord {
                    salt: hex::encode(salt),
                    hash: crypto::salted_hash(
                        &salt,
                        &crypto::normalize_recovery_code(code.expose()),
                    ),
                    used: false,
                });
                plaintext.push(code);
            }
        }
        if spec.wallet {
            let key = crypto::random_bytes::<32>();
            // A demo address derived from the key (not Keccak: the sandbox holds no secp256k1 code).
            let digest = crypto::salted_hash(b"stepup-sandbox-address", &hex::encode(key));
            user.wallets.push(WalletRecord {
                id: crypto::new_id(),
                credential_id: crypto::new_id(),
                address: format!("0x{}", &digest[24..]),
                private_key: Secret::new(format!("0x{}", hex::encode(key))),
            });
        }
        let mut demo = demo_view(&user);
        demo.recovery_codes = plaintext;
        let user_id = user.id.clone();
        self.state.users.insert(user_id.clone(), user);
        if spec.passkey {
            let (device_id, state) = self.enrol_soft_passkey(&user_id)?;
            demo.passkey_device_id = Some(device_id);
            demo.device_passkey_state = Some(state);
        }
        self.save()?;
        Ok(demo)
    }
}

fn mfa_device_view(d: &MfaDeviceRecord) -> MfaDevice {
    MfaDevice {
        kind: Some("totp".into()),
        verified: Some(d.verified),
        id: Some(d.id.clone()),
        created_at: Some(rfc3339(d.created_at_ms)),
        verified_at: d.verified_at_ms.map(rfc3339),
        default: Some(d.default),
        alias: d.alias.clone(),
    }
}

fn demo_view(user: &UserRecord) -> DemoUser {
    let totp = user.mfa_devices.iter().rev().find(|d| d.verified);
    DemoUser {
        user_id: user.id.clone(),
        email: user
            .email
            .as_ref()
            .map(|e| e.address.clone())
            .unwrap_or_default(),
        phone: user.phone.as_ref().map(|p| {
            (
                p.country_code.clone(),
                p.iso_country_code.clone(),
                p.number.clone(),
            )
        }),
        totp_device_id: totp.map(|d| d.id.clone()),
        totp_secret_base32: totp.map(|d| d.secret_base32.clone()),
        recovery_codes: Vec::new(),
        wallet_id: user.wallets.first().map(|w| w.id.clone()),
        wallet_address: user.wallets.first().map(|w| w.address.clone()),
        passkey_device_id: user.passkeys.first().map(|p| p.id.clone()),
        device_passkey_state: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn email_and_phone_validation() {
        assert_eq!(
            normalize_email(" Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        for bad in [
            "",
            "no-at",
            "@x.io",
            "a@b",
            &format!("{}@x.io", "a".repeat(300)),
            "a b@x.io",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
        assert_eq!(
            normalize_phone("+1", "us", "555-0100").unwrap(),
            ("1".into(), "US".into(), "5550100".into())
        );
        assert!(normalize_phone("1", "USA", "5550100").is_err());
        assert!(normalize_phone("1", "US", "12").is_err());
    }
}
