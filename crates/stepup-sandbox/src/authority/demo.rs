//! The demo user: seeded once per state (`--seed-demo`), with a phone, a TOTP device,
//! recovery codes, an embedded wallet, an external wallet (a key the demo view shows, so
//! the demo can sign as it), a linked Google account and a device passkey; its remaining plaintext recovery
//! codes are kept in memory for the sandbox's `demo` view.

use super::users::user_view;
use super::Authority;
use crate::error::SandboxError;
use crate::{DemoUser, UserSpec};

/// The demo user's email address.
const DEMO_EMAIL: &str = "demo@stepup.example";

impl Authority {
    /// Creates the demo user unless the state already has it.
    pub(super) fn seed_demo(&mut self) -> Result<(), SandboxError> {
        if let Some(id) = self.state.demo_user_id.clone() {
            if let Some(user) = self.state.users.get(&id) {
                // A state from before external wallets: the demo user gets one now.
                if user.external_wallets.is_empty() {
                    if let Some(user) = self.state.user_mut(&id) {
                        user.external_wallets
                            .push(super::wallets::new_demo_external_wallet());
                    }
                    self.save()?;
                }
                // A state from before social accounts: the demo user's Google account now.
                let user = self.state.users.get(&id);
                if user.is_some_and(|u| u.social_accounts.is_empty()) {
                    if let Some(user) = self.state.user_mut(&id) {
                        let account = super::social::new_linked_account("google", user)
                            .map_err(SandboxError::InvalidUser)?;
                        user.social_accounts.push(account);
                    }
                    self.save()?;
                }
                return Ok(());
            }
        }
        let spec = UserSpec {
            email: DEMO_EMAIL.into(),
            phone: Some(("1".into(), "US".into(), "5550100".into())),
            totp: true,
            recovery_codes: true,
            wallet: true,
            external_wallet: true,
            passkey: true,
            social: vec!["google".into()],
        };
        let demo = self.create_user(spec)?;
        self.state.set_demo(
            Some(demo.user_id.clone()),
            demo.device_passkey_state.clone(),
        );
        self.demo_recovery_codes = demo.recovery_codes;
        Ok(())
    }

    /// Whether `user_id` is the demo user.
    pub(super) fn is_demo(&self, user_id: &str) -> bool {
        self.state.demo_user_id.as_deref() == Some(user_id)
    }

    /// The demo user, with its remaining plaintext recovery codes.
    pub(crate) fn demo(&self) -> Option<DemoUser> {
        let id = self.state.demo_user_id.as_ref()?;
        let user = self.state.users.get(id)?;
        let mut demo = user_view(user);
        demo.recovery_codes = self.demo_recovery_codes.clone();
        demo.device_passkey_state = self.state.demo_passkey_state.clone();
        Some(demo)
    }
}
