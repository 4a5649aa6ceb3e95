//! One request open in the dialog, as a typed lifecycle:
//!
//! ```text
//! Opened ──offer──▶ Offered{credentials} ──code_sent──▶ CodeSent{credentials, sent}
//!   │                   │   ▲                               │  (resend: CodeSent again)
//!   │                   │   └────────────offer──────────────┘
//!   ▼                   ▼
//! NotNeeded      Approved | Denied | Cancelled | Expired     (the desk closes it: gone)
//! ```
//!
//! A credential can be chosen only once the server offered it, a code verified only once one
//! was sent on that channel, and a request approved only once it was offered: each is a
//! method that needs the stage, never a flag to remember to check.

use crate::browser::BrowserWait;
use crate::error::AppError;
use crate::link::StepUpRequest;
use crate::method::Method;
use serde::Serialize;
use stepup_client::{OtpChannel, OtpVerification, Secret, StepUpCredential, WalletChallenge};
use tokio::sync::oneshot;

/// How a request (or an action after one) ended, for the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Verified; a token was issued.
    Approved,
    /// A valid token already covered the scope.
    NotNeeded,
    /// The user said they did not ask for it.
    Denied,
    /// The user closed the dialog.
    Cancelled,
    /// Nobody answered it in time.
    Expired,
    /// Number matching: the user picked another number than the requesting page shows.
    NumberMismatch,
    /// Not a step-up: the app added a passkey on this device (after its own step-up).
    PasskeyAdded,
    /// Not a step-up: the dialog exported a wallet's private key (after its approval).
    KeyExported,
}

/// Where an open request is.
#[derive(Debug, Default)]
pub enum Stage {
    /// Shown, not yet checked with the server.
    #[default]
    Opened,
    /// The server asked for a verification and offered these credentials.
    Offered {
        /// What the server offered (the only credentials the dialog may use).
        credentials: Vec<StepUpCredential>,
    },
    /// An email or SMS code went out for it.
    CodeSent {
        /// What the server offered.
        credentials: Vec<StepUpCredential>,
        /// The sent code's verification (the code itself never comes here).
        sent: OtpVerification,
    },
}

/// A request open in the dialog.
#[derive(Debug)]
pub struct OpenRequest {
    /// The validated request (what the dialog shows and the user approves).
    request: StepUpRequest,
    /// Where it is in its lifecycle.
    stage: Stage,
    /// Wrong codes typed so far (faults on the way are not counted).
    wrong_codes: u32,
    /// Whether the environment lets a recovery code stand in for an offered MFA method.
    recovery_codes: bool,
    /// The request's server-issued assertion held its checks and is offered.
    server_confirmation: bool,
    /// When it was opened, unix ms (requests expire, see `REQUEST_TTL_MS`).
    opened_at_ms: i64,
    /// For the app's own requests: who waits for the outcome (told at most once).
    waiter: Option<oneshot::Sender<Outcome>>,
    /// Number matching: the three numbers offered (the request's and two others, shuffled).
    match_choices: Option<[u8; 3]>,
    /// The right number was picked.
    matched: bool,
    /// The message shown for an offered wallet credential (its id), kept so that the
    /// signature checked is of the very message the dialog showed.
    wallet_message: Option<(String, WalletChallenge)>,
    /// A page in the system browser waiting for the user (the wallet page): ended with the
    /// request, whichever way it ends.
    browser: Option<BrowserWait>,
}

impl OpenRequest {
    pub(crate) fn new(
        request: StepUpRequest,
        opened_at_ms: i64,
        waiter: Option<oneshot::Sender<Outcome>>,
    ) -> Self {
        Self {
            request,
            stage: Stage::Opened,
            wrong_codes: 0,
            recovery_codes: false,
            server_confirmation: false,
            opened_at_ms,
            waiter,
            match_choices: None,
            matched: false,
            wallet_message: None,
            browser: None,
        }
    }

    /// Number matching's three choices, if the request has a number.
    pub fn match_choices(&self) -> Option<[u8; 3]> {
        self.match_choices
    }

    pub(crate) fn set_match_choices(&mut self, choices: [u8; 3]) {
        self.match_choices = Some(choices);
    }

    /// Whether the request may be verified as far as number matching goes: it has no number,
    /// or the right one was picked.
    pub fn is_matched(&self) -> bool {
        self.request.match_code().is_none() || self.matched
    }

    pub(crate) fn set_matched(&mut self) {
        self.matched = true;
    }

    /// The request as validated.
    pub fn request(&self) -> &StepUpRequest {
        &self.request
    }

    /// Its stage.
    pub fn stage(&self) -> &Stage {
        &self.stage
    }

    /// Wrong codes so far.
    pub fn wrong_codes(&self) -> u32 {
        self.wrong_codes
    }

    /// When it was opened, unix ms.
    pub fn opened_at_ms(&self) -> i64 {
        self.opened_at_ms
    }

    /// The server asked for a verification with these credentials (again: a sent code is
    /// forgotten, the new offer is what counts).
    /// `recovery_codes`: whether the environment lets a recovery code stand in for the MFA
    /// methods offered.
    pub fn offer(&mut self, credentials: Vec<StepUpCredential>, recovery_codes: bool) {
        self.stage = Stage::Offered { credentials };
        self.recovery_codes = recovery_codes;
    }

    /// Offers (or withdraws) the request's server-issued assertion, after its checks.
    pub fn set_server_confirmation(&mut self, offered: bool) {
        self.server_confirmation = offered && self.request.assertion().is_some();
    }

    /// The request's server-issued assertion, when it is offered.
    pub fn server_confirmation(&self) -> Option<&Secret> {
        if !self.server_confirmation || self.credentials().is_none() {
            return None;
        }
        self.request.assertion()
    }

    /// The credentials offered, if the server was asked.
    pub fn credentials(&self) -> Option<&[StepUpCredential]> {
        match &self.stage {
            Stage::Opened => None,
            Stage::Offered { credentials } | Stage::CodeSent { credentials, .. } => {
                Some(credentials)
            }
        }
    }

    /// The offered credential `id`, if it runs `method`.
    pub fn credential(&self, id: &str, method: Method) -> Result<&StepUpCredential, AppError> {
        self.credentials()
            .unwrap_or_default()
            .iter()
            .find(|c| c.id == id && Method::of(c) == method)
            .ok_or(AppError::CredentialNotOffered)
    }

    /// Whether a recovery code may be used: an MFA method (authenticator app, passkey) was
    /// offered, and the environment has recovery codes on.
    pub fn offers_mfa(&self) -> bool {
        self.recovery_codes
            && self
                .credentials()
                .unwrap_or_default()
                .iter()
                .any(|c| Method::of(c).is_mfa())
    }

    /// A code was sent for an offered credential.
    pub fn code_sent(&mut self, sent: OtpVerification) -> Result<(), AppError> {
        let stage = std::mem::take(&mut self.stage);
        self.stage = match stage {
            Stage::Offered { credentials } | Stage::CodeSent { credentials, .. } => {
                Stage::CodeSent { credentials, sent }
            }
            Stage::Opened => {
                self.stage = Stage::Opened;
                return Err(AppError::CredentialNotOffered);
            }
        };
        Ok(())
    }

    /// The code sent on `method`'s channel (email or SMS), to verify.
    pub fn sent_code(&self, method: Method) -> Result<OtpVerification, AppError> {
        match (&self.stage, method) {
            (Stage::CodeSent { sent, .. }, Method::EmailOtp)
                if matches!(sent.channel, OtpChannel::Email(_)) =>
            {
                Ok(sent.clone())
            }
            (Stage::CodeSent { sent, .. }, Method::SmsOtp)
                if matches!(sent.channel, OtpChannel::Sms(_)) =>
            {
                Ok(sent.clone())
            }
            _ => Err(AppError::NoCodeSent),
        }
    }

    /// A wrong code was typed.
    pub fn count_wrong_code(&mut self) {
        self.wrong_codes = self.wrong_codes.saturating_add(1);
    }

    /// Keeps the wallet message shown for the offered credential `credential_id` (a new one
    /// replaces the one before: its nonce is never sent).
    pub fn set_wallet_message(&mut self, credential_id: &str, challenge: WalletChallenge) {
        self.wallet_message = Some((credential_id.to_owned(), challenge));
    }

    /// The wallet message shown for `credential_id`, to check a signature against.
    pub fn wallet_message(&self, credential_id: &str) -> Result<&WalletChallenge, AppError> {
        match &self.wallet_message {
            Some((id, challenge)) if id == credential_id => Ok(challenge),
            _ => Err(AppError::NoWalletMessage),
        }
    }

    /// Forgets the wallet message (its nonce went to the server: it cannot be signed again).
    pub fn forget_wallet_message(&mut self) {
        self.wallet_message = None;
    }

    /// A page now waits in the system browser; one before it (if any) is ended.
    pub fn set_browser(&mut self, wait: BrowserWait) {
        if let Some(before) = self.browser.replace(wait) {
            before.end();
        }
    }

    /// The page waiting in the system browser, if any.
    pub fn browser(&self) -> Option<&BrowserWait> {
        self.browser.as_ref()
    }

    /// Ends the browser page's wait (cancel, or its answer came): the receiver closes its port.
    pub fn end_browser(&mut self) {
        if let Some(wait) = self.browser.take() {
            wait.end();
        }
    }

    /// Tells the waiter (if any) how it ended; at most once, since this consumes it.
    pub(crate) fn end(mut self, outcome: Outcome) -> (StepUpRequest, u32) {
        self.end_browser();
        if let Some(waiter) = self.waiter.take() {
            // The waiting command may be gone (the app is closing): nothing to tell then.
            let _ = waiter.send(outcome);
        }
        (self.request, self.wrong_codes)
    }
}
