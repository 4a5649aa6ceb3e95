//! `GET settings`: the smallest project settings the official SDK initialises against, plus
//! the MFA methods and the per-action token behaviour of this sandbox.

use super::Authority;
use crate::TokenPolicy;

impl Authority {
    /// The settings document of this environment.
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
            "providers": self.provider_settings(),
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
}
