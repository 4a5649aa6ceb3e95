//! Header names and values of the SDK (C:`src/modules/apiClient/constants.ts`, §6 of the protocol doc).

/// The API version the client speaks.
pub const API_VERSION: &str = "API/0.0.1125";
/// `x-dyn-api-version`.
pub const X_DYN_API_VERSION: &str = "x-dyn-api-version";
/// `x-dyn-version`: names the SDK (ours: `StepupDesktop/<version>`).
pub const X_DYN_VERSION: &str = "x-dyn-version";
/// `x-dynamic-platform`.
pub const X_DYNAMIC_PLATFORM: &str = "x-dynamic-platform";
/// `x-dyn-request-id`: 50 alphanumerics per request.
pub const X_DYN_REQUEST_ID: &str = "x-dyn-request-id";
/// `x-dyn-session-id`: 32 alphanumerics per client instance (not the auth session).
pub const X_DYN_SESSION_ID: &str = "x-dyn-session-id";
/// `x-dyn-elevated-access-token`: the elevated token on the call of its scope.
pub const X_DYN_ELEVATED_ACCESS_TOKEN: &str = "x-dyn-elevated-access-token";
/// `x-dyn-session-public-key`: the client's session key, a compressed P-256 point as hex (66
/// characters), on every call once the key exists (C:`createBaseApiClient`, `getSessionKeys`).
pub const X_DYN_SESSION_PUBLIC_KEY: &str = "x-dyn-session-public-key";
/// `x-dyn-logout-reason`: why the client signs out, on `POST revoke` (C:`logoutWithReason`).
pub const X_DYN_LOGOUT_REASON: &str = "x-dyn-logout-reason";
/// `x-mfa-auth-token`: the legacy MFA token.
pub const X_MFA_AUTH_TOKEN: &str = "x-mfa-auth-token";
/// `x-dynamic-device-nonce`.
pub const X_DYNAMIC_DEVICE_NONCE: &str = "x-dynamic-device-nonce";
/// `x-dynamic-device-publickey`: compressed P-256 point, hex.
pub const X_DYNAMIC_DEVICE_PUBLICKEY: &str = "x-dynamic-device-publickey";
/// `x-dynamic-device-signed-nonce`: ECDSA P-256/SHA-256 over the nonce, P1363 r‖s hex.
pub const X_DYNAMIC_DEVICE_SIGNED_NONCE: &str = "x-dynamic-device-signed-nonce";
/// RFC 9470's challenge value for "step up".
pub const INSUFFICIENT_USER_AUTHENTICATION: &str = "insufficient_user_authentication";

/// Paths (relative to `/sdk/{env}/`) on which the SDK adds the device nonce-signature headers
/// (A:`src/deviceNonceSignatureEndpoints.js`, the ones this project uses).
pub const DEVICE_SIGNED_PATHS: &[&str] = &[
    "emailVerifications/verify",
    "emailVerifications/signin",
    "smsVerifications/verify",
    "smsVerifications/signin",
    "wallets/verify",
    "verify",
    "verify/link",
    "verify/merge",
    "verify/transfer",
    "refresh",
    "externalAuth/signin",
];

/// True when the SDK signs a nonce with the device key for this relative path.
pub fn is_device_signed(path: &str) -> bool {
    DEVICE_SIGNED_PATHS.contains(&path)
        || (path.starts_with("providers/") && path.ends_with("/signIn"))
}

/// Why a client signs out: the `x-dyn-logout-reason` values of the SDK's `LogoutReason`
/// (C:`dist/modules/auth/logoutReason.d.ts`), for the server's attribution of the revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogoutReason {
    /// The user signed out (the SDK's public `logout`).
    UserIntent,
    /// The session reached its expiry.
    TokenExpired,
    /// The stored session key could not be moved into the keychain.
    KeychainMigrationFailed,
    /// The session key is gone from the keychain.
    KeychainKeyMissing,
    /// A refresh was refused (401).
    SessionRefreshUnauthorized,
    /// The user could not be fetched again.
    UserRefreshFailed,
    /// The user was deleted.
    UserDeleted,
    /// This device was revoked.
    DeviceRevoked,
    /// Every device was revoked.
    AllDevicesRevoked,
    /// The business account's ownership moved to someone else.
    BusinessAccountOwnershipTransferred,
}

impl LogoutReason {
    /// Every reason, in the SDK's order.
    pub const ALL: [LogoutReason; 10] = [
        Self::UserIntent,
        Self::TokenExpired,
        Self::KeychainMigrationFailed,
        Self::KeychainKeyMissing,
        Self::SessionRefreshUnauthorized,
        Self::UserRefreshFailed,
        Self::UserDeleted,
        Self::DeviceRevoked,
        Self::AllDevicesRevoked,
        Self::BusinessAccountOwnershipTransferred,
    ];

    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserIntent => "user-intent",
            Self::TokenExpired => "token-expired",
            Self::KeychainMigrationFailed => "keychain-migration-failed",
            Self::KeychainKeyMissing => "keychain-key-missing",
            Self::SessionRefreshUnauthorized => "session-refresh-unauthorized",
            Self::UserRefreshFailed => "user-refresh-failed",
            Self::UserDeleted => "user-deleted",
            Self::DeviceRevoked => "device-revoked",
            Self::AllDevicesRevoked => "all-devices-revoked",
            Self::BusinessAccountOwnershipTransferred => "business-account-ownership-transferred",
        }
    }

    /// The reason a header value names, if it is one of the SDK's.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logout_reasons_round_trip_and_unknown_ones_do_not_parse() {
        for r in LogoutReason::ALL {
            assert_eq!(LogoutReason::parse(r.as_str()), Some(r));
        }
        assert_eq!(LogoutReason::parse("User-Intent"), None);
        assert_eq!(LogoutReason::parse(""), None);
    }
}
