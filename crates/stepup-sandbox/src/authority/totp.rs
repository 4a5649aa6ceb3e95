//! TOTP: RFC 6238 SHA-1/6/30 s, ±1 step, and only steps after the last accepted one (a code
//! is never accepted twice). Step-up with a code, and registration: a pending device (behind
//! a `credential:link` token) that its first code verifies.

use stepup_protocol::{
    codes, MfaDevice, Secret, TotpAuthRequest, TotpRegisterVerifyRequest, TotpRegistration,
    VerifyResponse,
};

use super::grant::Session;
use super::mfa_devices::mfa_device_view;
use super::tokens::{CredentialLink, PresentedToken};
use super::{Authority, SessionCtx};
use crate::crypto;
use crate::error::ApiError;
use crate::store::MfaDeviceRecord;
use crate::validation::{bounded, MAX_CODE_LEN, MAX_ID_LEN};

/// Label of a TOTP device.
const TOTP_ALIAS: &str = "Authenticator app";

/// A TOTP device with a fresh secret: verified (created directly) or pending a first code.
fn new_device(now_ms: i64, verified: bool) -> MfaDeviceRecord {
    MfaDeviceRecord {
        id: crypto::new_id(),
        secret_base32: crypto::new_totp_secret(),
        alias: Some(TOTP_ALIAS.into()),
        verified,
        default: false,
        created_at_ms: now_ms,
        verified_at_ms: verified.then_some(now_ms),
        last_step: None,
    }
}

/// A verified TOTP device for a user created directly.
pub(super) fn verified_device(now_ms: i64) -> MfaDeviceRecord {
    new_device(now_ms, true)
}

impl Authority {
    /// The current TOTP code of a secret, with the sandbox clock.
    pub(crate) fn totp_now(&self, secret_base32: &str) -> Option<String> {
        crypto::totp_code_at(secret_base32, self.now_secs())
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
            None => Err(self.wrong_mfa_code(user_id)),
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
        self.require_method_on("totp")?;
        self.mfa_guard(&ctx.user_id)?;
        let index = self.pick_totp_device(&ctx.user_id, req.id.as_deref())?;
        self.accept_totp(&ctx.user_id, index, &req.code)?;
        self.grant(Session::Rotate(ctx), &scopes, None)
    }

    /// `GET users/mfa/register/totp`: with a `credential:link` token, a pending device (any
    /// earlier pending one is dropped).
    pub(crate) fn register_totp_start(
        &mut self,
        ctx: &SessionCtx,
        token: &PresentedToken<CredentialLink>,
    ) -> Result<TotpRegistration, ApiError> {
        self.require_elevated(ctx, token)?;
        let device = new_device(self.now_ms(), false);
        let (id, secret) = (device.id.clone(), device.secret_base32.clone());
        let user = self.user_mut(&ctx.user_id)?;
        let account = user
            .email
            .as_ref()
            .map(|e| e.address.clone())
            .unwrap_or_else(|| user.id.clone());
        user.mfa_devices.retain(|d| d.verified);
        user.mfa_devices.push(device);
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
}
