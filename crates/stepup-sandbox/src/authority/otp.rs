//! Email/SMS codes: 6 digits, 10 min, single use, delivered to the outbox (and the terminal
//! when asked). Wrong codes count down `remainingAttempts`; the 5th kills the verification.
//! A code signs in (creating the user on first sign-in) or steps up the signed-in user, if it
//! went to that user's own email or phone.

use std::collections::VecDeque;
use stepup_protocol::{
    codes, EmailVerificationCreateResponse, OtpSignInRequest, OtpVerifyRequest, Secret,
    SmsVerificationCreateRequest, SmsVerificationCreateResponse, TokenScope, VerifyResponse,
};

use super::grant::Session;
use super::{Authority, SessionCtx};
use crate::error::ApiError;
use crate::expiring_map::ExpiringMap;
use crate::validation::{bounded, normalize_email, normalize_phone, MAX_CODE_LEN, MAX_ID_LEN};
use crate::{crypto, Channel, OutboxMessage};

/// An email/SMS code is valid this long.
const OTP_TTL_MS: i64 = 10 * 60 * 1000;
/// The 5th wrong email/SMS code kills the verification.
const OTP_MAX_WRONG: u32 = 5;
/// Pending verifications kept at most (oldest dropped first).
const MAX_VERIFICATIONS: usize = 10_000;
/// Delivered messages kept in the outbox.
const OUTBOX_CAP: usize = 100;

/// The pending verifications of a new authority.
pub(super) fn verification_table() -> ExpiringMap<OtpVerification> {
    ExpiringMap::new(OTP_TTL_MS, MAX_VERIFICATIONS)
}

/// Where an email/SMS code went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum OtpTarget {
    Email(String),
    Phone {
        country_code: String,
        iso_country_code: String,
        number: String,
    },
}

impl OtpTarget {
    /// The same address or number (the ISO code is only a label).
    fn is(&self, other: &OtpTarget) -> bool {
        match (self, other) {
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
        }
    }
}

/// A pending email/SMS verification (in memory only: its code lives in the outbox).
#[derive(Debug)]
pub(super) struct OtpVerification {
    channel: Channel,
    target: OtpTarget,
    code: Secret,
    wrong_attempts: u32,
    locked: bool,
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

fn push_bounded(outbox: &mut VecDeque<OutboxMessage>, message: OutboxMessage) {
    outbox.push_back(message);
    while outbox.len() > OUTBOX_CAP {
        outbox.pop_front();
    }
}

impl Authority {
    fn deliver(&mut self, channel: Channel, target: OtpTarget) -> String {
        let now = self.now_ms();
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
        push_bounded(
            &mut self.outbox,
            OutboxMessage {
                channel,
                to,
                code: code.clone(),
                verification_uuid: uuid.clone(),
                created_at_ms: now,
            },
        );
        let verification = OtpVerification {
            channel,
            target,
            code,
            wrong_attempts: 0,
            locked: false,
        };
        self.verifications.insert(uuid.clone(), verification, now);
        uuid
    }

    /// The outbox, oldest first.
    pub(crate) fn outbox(&self) -> Vec<OutboxMessage> {
        self.outbox.iter().cloned().collect()
    }

    /// Counts a verification about to be created, or refuses it with 429 (see
    /// `rate_limits.rs`).
    fn admit_verification(
        &mut self,
        target: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<(), ApiError> {
        let now = self.now_ms();
        self.verification_limits
            .admit(target, client, now)
            .map_err(|wait_s| ApiError::rate_limited("verification codes requested", wait_s))
    }

    /// `POST emailVerifications/create`.
    pub(crate) fn create_email_verification(
        &mut self,
        email: &str,
        client: Option<std::net::IpAddr>,
    ) -> Result<EmailVerificationCreateResponse, ApiError> {
        let email =
            normalize_email(email).map_err(|e| ApiError::unprocessable(codes::INVALID_EMAIL, e))?;
        self.admit_verification(&format!("email:{email}"), client)?;
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
        client: Option<std::net::IpAddr>,
    ) -> Result<SmsVerificationCreateResponse, ApiError> {
        let (country_code, iso_country_code, number) = normalize_phone(
            &req.phone_country_code,
            &req.iso_country_code,
            &req.phone_number,
        )
        .map_err(|e| ApiError::unprocessable(codes::INVALID_PHONE, e))?;
        self.admit_verification(&format!("phone:+{country_code}{number}"), client)?;
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
        let too_many = || {
            ApiError::unprocessable(
                c.too_many,
                format!("too many wrong {} codes: ask for a new code", c.noun),
            )
        };
        let Some(found) = self.verifications.get_mut(uuid, now) else {
            return Err(invalid());
        };
        let v = found.value;
        if v.channel != channel {
            return Err(invalid());
        }
        if v.locked {
            return Err(too_many());
        }
        if found.expired {
            self.verifications.remove(uuid);
            return Err(invalid());
        }
        if owner.is_some_and(|owner| !owner.is(&v.target)) {
            return Err(ApiError::unprocessable(
                c.invalid,
                format!(
                    "this code was sent to another {} than the signed-in user's",
                    c.noun
                ),
            ));
        }
        if !crypto::ct_eq(v.code.expose().as_bytes(), token.expose().trim().as_bytes()) {
            v.wrong_attempts += 1;
            if v.wrong_attempts >= OTP_MAX_WRONG {
                v.locked = true;
                return Err(too_many());
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

    /// `POST emailVerifications/signin` / `smsVerifications/signin`: signs in, creating the
    /// user on first sign-in, the session bound to the client's `session_key` if it sent one.
    /// A user without MFA who allows linking gets a `credential:link` token to enrol one.
    pub(crate) fn otp_sign_in(
        &mut self,
        channel: Channel,
        req: &OtpSignInRequest,
        session_key: Option<String>,
    ) -> Result<VerifyResponse, ApiError> {
        let target = self.consume_otp(
            channel,
            &req.verification_uuid,
            &req.verification_token,
            None,
        )?;
        let user_id = match self.find_user_by_target(&target) {
            Some(id) => id,
            None => self.sign_up(&target),
        };
        let user = self.user(&user_id)?;
        let credential_id = match target {
            OtpTarget::Email(_) => user.email.as_ref().map(|e| e.credential_id.clone()),
            OtpTarget::Phone { .. } => user.phone.as_ref().map(|p| p.credential_id.clone()),
        };
        let scopes = if req.allow_new_mfa_linking == Some(true) && !self.has_mfa(&user_id) {
            vec![TokenScope::CredentialLink.as_str().to_owned()]
        } else {
            Vec::new()
        };
        let session = Session::SignIn {
            user_id: &user_id,
            credential_id,
            session_key,
        };
        self.grant(session, &scopes, None)
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
        self.require_method_on(channel.as_str())?;
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
        self.grant(Session::Rotate(ctx), &scopes, Some("done"))
    }
}
