//! The JSON of the sandbox-only views (`outbox`, `demo`): test and demo aids, never served
//! under Dynamic's paths.

use serde_json::{json, Value};

use crate::{DemoUser, OutboxMessage};

/// `GET sandbox/{env}/outbox`: the delivered codes, oldest first.
pub(super) fn outbox(messages: &[OutboxMessage]) -> Value {
    Value::Array(
        messages
            .iter()
            .map(|m| {
                json!({
                    "channel": m.channel.as_str(),
                    "to": m.to,
                    "code": m.code.expose(),
                    "verificationUUID": m.verification_uuid,
                    "createdAt": m.created_at_ms,
                })
            })
            .collect(),
    )
}

/// `GET sandbox/{env}/demo`: the demo user with its current TOTP `code`.
pub(super) fn demo(demo: &DemoUser, code: Option<String>) -> Value {
    json!({
        "userId": demo.user_id,
        "email": demo.email,
        "phone": demo.phone.as_ref().map(|(cc, iso, n)| json!({"phoneCountryCode": cc, "isoCountryCode": iso, "phoneNumber": n})),
        "totpDeviceId": demo.totp_device_id,
        "totpSecret": demo.totp_secret_base32.as_ref().map(|s| s.expose().to_owned()),
        "totpCode": code,
        "recoveryCodes": demo.recovery_codes.iter().map(|c| c.expose().to_owned()).collect::<Vec<_>>(),
        "walletId": demo.wallet_id,
        "walletAddress": demo.wallet_address,
        "passkeyDeviceId": demo.passkey_device_id,
        "externalWalletAddress": demo.external_wallet_address,
        "externalWalletPrivateKey": demo.external_wallet_private_key.as_ref().map(|k| k.expose().to_owned()),
        "socialAccounts": demo.social_accounts.iter().map(|a| json!({
            "provider": a.provider,
            "accountId": a.account_id,
            "username": a.username,
            "displayName": a.display_name,
            "credentialId": a.credential_id,
        })).collect::<Vec<_>>(),
    })
}
