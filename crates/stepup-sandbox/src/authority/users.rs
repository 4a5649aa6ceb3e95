//! Users: created on a first sign-in or directly (tests, demo), found by their email or phone
//! (each unique), and whether they have MFA.

use stepup_protocol::Secret;

use super::otp::OtpTarget;
use super::{recovery_codes, social, totp, wallets, Authority};
use crate::error::SandboxError;
use crate::store::{EmailRecord, PhoneRecord, UserRecord};
use crate::validation::{normalize_email, normalize_phone};
use crate::{crypto, DemoUser, UserSpec};

/// A user with an email and/or a phone and nothing else yet.
fn new_user(email: Option<String>, phone: Option<PhoneRecord>, now_ms: i64) -> UserRecord {
    UserRecord {
        id: crypto::new_id(),
        created_at_ms: now_ms,
        email: email.map(|address| EmailRecord {
            credential_id: crypto::new_id(),
            address,
        }),
        phone,
        mfa_devices: Vec::new(),
        recovery_codes: Vec::new(),
        wallets: Vec::new(),
        mfa_failures_ms: Vec::new(),
        passkeys: Vec::new(),
        external_wallets: Vec::new(),
        social_accounts: Vec::new(),
    }
}

fn phone_record(country_code: String, iso_country_code: String, number: String) -> PhoneRecord {
    PhoneRecord {
        credential_id: crypto::new_id(),
        country_code,
        iso_country_code,
        number,
    }
}

/// What a test or the demo may know of a user (no plaintext recovery codes: only their
/// creator has those).
pub(super) fn user_view(user: &UserRecord) -> DemoUser {
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
        external_wallet_address: user.external_wallets.first().map(|w| w.address.clone()),
        external_wallet_private_key: user
            .external_wallets
            .first()
            .and_then(|w| w.demo_private_key.clone()),
        device_passkey_state: None,
        social_accounts: user
            .social_accounts
            .iter()
            .map(|a| crate::SocialAccount {
                provider: a.provider.clone(),
                account_id: a.account_id.clone(),
                username: a.username.clone(),
                display_name: a.display_name.clone(),
                credential_id: a.credential_id.clone(),
            })
            .collect(),
    }
}

impl Authority {
    /// The user an email/SMS code's target belongs to.
    pub(super) fn find_user_by_target(&self, target: &OtpTarget) -> Option<String> {
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

    /// A verified TOTP device or any passkey.
    pub(super) fn has_mfa(&self, user_id: &str) -> bool {
        self.state
            .users
            .get(user_id)
            .is_some_and(|u| u.mfa_devices.iter().any(|d| d.verified) || !u.passkeys.is_empty())
    }

    /// Creates the user of a first sign-in with `target`; returns its id (saved by the grant).
    pub(super) fn sign_up(&mut self, target: &OtpTarget) -> String {
        let user = match target {
            OtpTarget::Email(e) => new_user(Some(e.clone()), None, self.now_ms()),
            OtpTarget::Phone {
                country_code,
                iso_country_code,
                number,
            } => {
                let phone = phone_record(
                    country_code.clone(),
                    iso_country_code.clone(),
                    number.clone(),
                );
                new_user(None, Some(phone), self.now_ms())
            }
        };
        let id = user.id.clone();
        self.state.insert_user(user);
        id
    }

    /// Creates a user directly (tests, demo), with the secrets only its creator may see.
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
                Some(phone_record(cc, iso, number))
            }
            None => None,
        };
        let now = self.now_ms();
        let mut user = new_user(Some(email), phone, now);
        if spec.totp {
            user.mfa_devices.push(totp::verified_device(now));
        }
        let mut plaintext: Vec<Secret> = Vec::new();
        if spec.recovery_codes {
            let (records, codes) = recovery_codes::new_recovery_codes();
            user.recovery_codes = records;
            plaintext = codes;
        }
        if spec.wallet {
            user.wallets.push(wallets::new_demo_wallet());
        }
        if spec.external_wallet {
            user.external_wallets
                .push(wallets::new_demo_external_wallet());
        }
        for provider in &spec.social {
            let account =
                social::new_linked_account(provider, &user).map_err(SandboxError::InvalidUser)?;
            user.social_accounts.push(account);
        }
        let mut created = user_view(&user);
        created.recovery_codes = plaintext;
        let user_id = user.id.clone();
        self.state.insert_user(user);
        if spec.passkey {
            let (device_id, state) = self.enrol_soft_passkey(&user_id)?;
            created.passkey_device_id = Some(device_id);
            created.device_passkey_state = Some(state);
        }
        self.save()?;
        Ok(created)
    }
}
