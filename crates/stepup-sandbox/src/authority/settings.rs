//! `GET settings`: the smallest project settings the official SDK initialises against, plus
//! the MFA methods, the sign-in and social providers (each with its `enabledAt`, `null` when
//! turned off), the EVM chain, and the per-action token behaviour of this sandbox. A method
//! turned off ([`crate::SandboxConfig::disabled_methods`]) is off in the document, and its
//! step-up verifications are refused ([`Authority::require_method_on`]).

use super::Authority;
use crate::error::ApiError;
use crate::TokenPolicy;
use stepup_protocol::codes;

/// The `enabledAt` of a provider that is on: a fixed instant, so that the document (and its
/// `ETag`) changes only when the settings do.
const ENABLED_AT: &str = "2026-01-01T00:00:00.000Z";

impl Authority {
    /// Whether `method` (a name of `SWITCHABLE_METHODS`) is on.
    pub(crate) fn method_on(&self, method: &str) -> bool {
        !self.disabled_methods.contains(method)
    }

    /// 422 for a step-up verification with a method this environment turned off:
    /// `provider_not_available` for a provider (email, SMS, social), `mfa_invalid_request`
    /// for the MFA methods and recovery codes, `invalid_verification` for the wallet.
    pub(crate) fn require_method_on(&self, method: &str) -> Result<(), ApiError> {
        if self.method_on(method) {
            return Ok(());
        }
        let code = match method {
            "totp" | "passkey" | "recovery-codes" => codes::MFA_INVALID_REQUEST,
            "wallet" => codes::INVALID_VERIFICATION,
            _ => codes::PROVIDER_NOT_AVAILABLE,
        };
        Err(ApiError::unprocessable(
            code,
            format!("the method {method} is turned off for this environment"),
        ))
    }

    fn enabled_at(&self, method: &str) -> serde_json::Value {
        if self.method_on(method) {
            ENABLED_AT.into()
        } else {
            serde_json::Value::Null
        }
    }

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
        let mfa_methods: Vec<&str> = ["totp", "passkey"]
            .into_iter()
            .filter(|m| self.method_on(m))
            .collect();
        let backup_codes = self.method_on("recovery-codes");
        let mut providers = vec![
            serde_json::json!({"provider": "emailOnly", "enabledAt": self.enabled_at("email")}),
            serde_json::json!({"provider": "sms", "enabledAt": self.enabled_at("sms")}),
        ];
        if let serde_json::Value::Array(social) = self.provider_settings() {
            providers.extend(social);
        }
        for p in &mut providers {
            let name = p["provider"].as_str().unwrap_or_default().to_owned();
            if name != "emailOnly" && name != "sms" {
                p["enabledAt"] = self.enabled_at(&name);
            }
        }
        serde_json::json!({
            "environmentId": self.env,
            "chains": [{"name": "EVM", "enabled": self.method_on("wallet")}],
            "kyc": [],
            "design": {},
            "general": { "displayName": "Stepup Sandbox" },
            "privacy": {},
            "sdk": {},
            "providers": providers,
            "security": {
                "mfa": {
                    "enabled": true,
                    "required": false,
                    "enrollment": "action",
                    "availableMethods": mfa_methods,
                    "methods": [
                        { "type": "totp", "enabled": self.method_on("totp"), "allowBackupCodes": backup_codes },
                        { "type": "passkey", "enabled": self.method_on("passkey"), "allowBackupCodes": backup_codes },
                    ],
                    "actions": [
                        action("wallet.waas.export", "wallet:export"),
                        action("wallet.waas.sign", "wallet:sign"),
                    ],
                },
                "auth": { "storage": ["localstorage"] },
                "externalAuth": self.external_auth_settings(),
            },
        })
    }
}
