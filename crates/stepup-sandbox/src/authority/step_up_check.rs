//! `stepUp/check`: whether a scope needs a fresh verification, and with what. A user with MFA
//! is offered only its MFA devices (TOTP and passkeys; the default one, else the newest);
//! any other user its email, phone, external wallets and linked social accounts (the sign-in
//! credential by default).

use stepup_protocol::{codes, CredentialFormat, StepUpCheck, StepUpCredential, TokenScope};

use super::passkeys::passkey_credential;
use super::{Authority, SessionCtx};
use crate::crypto;
use crate::error::ApiError;
use crate::validation::shown;

impl Authority {
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
        for w in &user.external_wallets {
            credentials.push(StepUpCredential {
                id: w.credential_id.clone(),
                format: CredentialFormat::Blockchain,
                kind: None,
                alias: Some(crypto::mask_address(&w.address)),
            });
        }
        for a in &user.social_accounts {
            credentials.push(StepUpCredential {
                id: a.credential_id.clone(),
                format: CredentialFormat::Oauth,
                kind: None,
                // Masked as an email is: the full name is in the user's own credentials.
                alias: Some(if a.username.contains('@') {
                    crypto::mask_email(&a.username)
                } else {
                    a.username.clone()
                }),
            });
        }
        let default = self
            .signin_credential(ctx)
            .filter(|id| credentials.iter().any(|c| &c.id == id))
            .or_else(|| credentials.first().map(|c| c.id.clone()));
        Ok(StepUpCheck {
            is_required: true,
            credentials,
            default_credential_id: default,
        })
    }
}
