//! Error bodies: `{ "error": "<message>", "code"?: "<machine code>", "payload"?: {...} }`
//! (C:`src/errors/APIError/APIError.ts`).

use serde::{Deserialize, Serialize};

/// An error body as Dynamic sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Human-readable message.
    pub error: String,
    /// Machine code; the SDK reads a missing one as `unknown_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Extra data (for `step_up_required`: `{"scope": "..."}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
}

impl ErrorBody {
    /// An error body with a code.
    pub fn new(code: &str, error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            code: Some(code.to_owned()),
            payload: None,
        }
    }
}

/// Machine codes. All but [`codes::STEP_UP_REQUIRED`] are api-core's
/// (`UnprocessableEntityErrorCode`, or mapped by the SDK's `clientErrorMapper`).
pub mod codes {
    /// Wrong TOTP, recovery or passkey MFA code → SDK `MfaInvalidOtpError`.
    pub const MFA_INVALID_CODE: &str = "mfa_invalid_code";
    /// Too many MFA attempts → SDK `MfaRateLimitedError`.
    pub const MFA_RATE_LIMITED: &str = "mfa_rate_limited";
    /// The MFA device does not exist.
    pub const MFA_DEVICE_NOT_FOUND: &str = "mfa_device_not_found";
    /// The MFA request is malformed or not allowed.
    pub const MFA_INVALID_REQUEST: &str = "mfa_invalid_request";
    /// Wrong email code.
    pub const WRONG_EMAIL_VERIFICATION_TOKEN: &str = "wrong_email_verification_token";
    /// Wrong SMS code.
    pub const WRONG_SMS_VERIFICATION_TOKEN: &str = "wrong_sms_verification_token";
    /// Email verification unknown, expired or used.
    pub const INVALID_EMAIL_VERIFICATION: &str = "invalid_email_verification";
    /// SMS verification unknown, expired or used.
    pub const INVALID_SMS_VERIFICATION: &str = "invalid_sms_verification";
    /// Too many wrong email codes: the verification is dead.
    pub const TOO_MANY_EMAIL_VERIFICATION_ATTEMPTS: &str = "too_many_email_verification_attempts";
    /// Too many wrong SMS codes: the verification is dead.
    pub const TOO_MANY_SMS_VERIFICATION_ATTEMPTS: &str = "too_many_sms_verification_attempts";
    /// A requested scope is unknown or not allowed for this method.
    pub const INVALID_SCOPES: &str = "invalid_scopes";
    /// The external-auth assertion is invalid.
    pub const INVALID_EXTERNAL_AUTH: &str = "invalid_external_auth";
    /// Malformed phone number.
    pub const INVALID_PHONE: &str = "invalid_phone";
    /// Malformed email address.
    pub const INVALID_EMAIL: &str = "invalid_email";
    /// Wallet id unknown.
    pub const INVALID_WALLET_ID: &str = "invalid_wallet_id";
    /// Generic verification failure (bad wallet signature, OAuth state ...).
    pub const INVALID_VERIFICATION: &str = "invalid_verification";
    /// The wallet address is not one the request may use (not the user's credential).
    pub const INVALID_WALLET_ADDRESS: &str = "invalid_wallet_address";
    /// Wallet verify: the wallet belongs to another user, who could be merged (SDK
    /// `MergeAccountsConfirmationError`).
    pub const MERGE_ACCOUNTS_CONFIRMATION: &str = "merge_accounts_confirmation";
    /// Wallet verify: the wallet is linked to another user (SDK
    /// `WalletAlreadyLinkedToAnotherUserError`).
    pub const REASSIGN_WALLET_CONFIRM: &str = "reassign_wallet_confirm";
    /// Wallet verify: blocked by the project's screening (SDK `WalletScreeningBlockedError`).
    pub const CHAINALYSIS_BLOCKED_WALLET: &str = "chainalysis_blocked_wallet";
    /// Social verify: the provider account is linked to another user.
    pub const SOCIAL_ACCOUNT_ALREADY_EXISTS: &str = "social_account_already_exists";
    /// The provider is not enabled in this environment.
    pub const PROVIDER_NOT_AVAILABLE: &str = "provider_not_available";
    /// The session public key sent at sign-in is not a compressed P-256 point.
    pub const INVALID_SESSION_PUBLIC_KEY: &str = "invalid_session_public_key";
    /// `verify/unlink`: the credential is not one the caller can unlink.
    pub const INVALID_UNLINK_REQUEST: &str = "invalid_unlink_request";
    /// `verify/unlink`: the credential is the user's last sign-in credential.
    pub const CANNOT_DELETE_LAST_SIGN_IN_VERIFIED_CREDENTIAL: &str =
        "cannot_delete_last_sign_in_verified_credential";
    /// Passkey unknown.
    pub const PASSKEY_NOT_FOUND: &str = "passkey_not_found";
    /// Generic rate limit (429).
    pub const TOO_MANY_REQUESTS: &str = "too_many_requests";
    /// **Ours, not api-core's**: a scope-protected call arrived without a valid elevated token
    /// for its scope. Sent with status 403, `payload: {"scope": S}` and RFC 9470's
    /// `WWW-Authenticate: Bearer error="insufficient_user_authentication"`. Dynamic's own
    /// rejection is not visible in the packages; the client also recognises the RFC 9470 header.
    pub const STEP_UP_REQUIRED: &str = "step_up_required";
    /// Missing or invalid session.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// Device nonce signature headers present but invalid.
    pub const INVALID_DEVICE_SIGNATURE: &str = "invalid_device_signature";
}
