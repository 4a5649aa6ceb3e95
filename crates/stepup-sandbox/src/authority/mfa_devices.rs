//! MFA devices (TOTP devices and passkeys alike): the list, the methods, the default, and
//! removal, which needs a `credential:unlink` token that is consumed only if the device exists.

use stepup_protocol::{codes, MfaDevice, MfaDevicesResponse, MfaMethodsResponse};

use super::passkeys::{passkey_device_view, user_passkey_view};
use super::tokens::{CredentialUnlink, PresentedToken};
use super::{Authority, SessionCtx};
use crate::error::ApiError;
use crate::store::MfaDeviceRecord;
use crate::time_format::rfc3339;

/// The `MFADevice` view of a TOTP device.
pub(super) fn mfa_device_view(d: &MfaDeviceRecord) -> MfaDevice {
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

fn no_such_device() -> ApiError {
    ApiError::unprocessable(
        codes::MFA_DEVICE_NOT_FOUND,
        "no such MFA device for this user",
    )
}

impl Authority {
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

    /// `GET users/mfa/methods[?verifiedOnly=true]` (the SDK's `getMfaMethods` asks for verified
    /// ones only): the TOTP devices (without a pending, unconfirmed one when `verified_only`),
    /// every passkey (each is accepted by the passkey step-up, whichever endpoint registered
    /// it), and whether any of them is verified, which is what makes the user an MFA user.
    pub(crate) fn mfa_methods(
        &self,
        ctx: &SessionCtx,
        verified_only: bool,
    ) -> Result<MfaMethodsResponse, ApiError> {
        let user = self.user(&ctx.user_id)?;
        let devices: Vec<MfaDevice> = user
            .mfa_devices
            .iter()
            .filter(|d| d.verified || !verified_only)
            .map(mfa_device_view)
            .collect();
        let passkeys: Vec<_> = user.passkeys.iter().map(user_passkey_view).collect();
        Ok(MfaMethodsResponse {
            user_has_verified_mfa_methods: self.has_mfa(&ctx.user_id),
            devices,
            passkeys,
        })
    }

    /// Checks that device `id` exists for the user.
    fn has_device(&self, ctx: &SessionCtx, id: &str) -> Result<(), ApiError> {
        let user = self.user(&ctx.user_id)?;
        if user.mfa_devices.iter().any(|d| d.id == id) || user.passkeys.iter().any(|p| p.id == id) {
            Ok(())
        } else {
            Err(no_such_device())
        }
    }

    /// `DELETE users/mfa/{id}`: the device must exist before the `credential:unlink` token
    /// is checked (and, if single-use, spent).
    pub(crate) fn delete_mfa(
        &mut self,
        ctx: &SessionCtx,
        id: &str,
        token: &PresentedToken<CredentialUnlink>,
    ) -> Result<(), ApiError> {
        self.has_device(ctx, id)?;
        self.require_elevated(ctx, token)?;
        let user = self.user_mut(&ctx.user_id)?;
        let before = user.mfa_devices.len() + user.passkeys.len();
        user.mfa_devices.retain(|d| d.id != id);
        user.passkeys.retain(|p| p.id != id);
        if user.mfa_devices.len() + user.passkeys.len() == before {
            return Err(no_such_device());
        }
        self.persist()
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
}
