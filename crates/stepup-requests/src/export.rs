//! The export grant: what a `wallet:export` request approved in this dialog allows, once. The
//! export takes the grant by value, so a second export has nothing to take; what remains is
//! a record that it was spent, which is what "Verify again" needs.

/// The one export an approval allows. Only the desk makes one (when it closes a `wallet:export`
/// request as approved); [`crate::desk::RequestDesk::take_export`] hands it out once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportGrant {
    requester: String,
    return_to: Option<String>,
}

impl ExportGrant {
    pub(crate) fn new(requester: String, return_to: Option<String>) -> Self {
        Self {
            requester,
            return_to,
        }
    }

    /// Who asked for the approval.
    pub fn requester(&self) -> &str {
        &self.requester
    }

    /// Where the requester wanted the user back.
    pub fn return_to(&self) -> Option<&str> {
        self.return_to.as_deref()
    }
}

/// What the desk keeps for an approved export request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExportSlot {
    /// The export may run (once).
    Ready(ExportGrant),
    /// It ran (or was refused by the server); "Verify again" opens a new request for the
    /// same requester.
    Spent(ExportGrant),
}

/// Why a request cannot export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportRefusal {
    /// Not a `wallet:export` request approved in this dialog.
    NotApproved,
    /// Its one export was already taken.
    Spent,
}

impl From<ExportRefusal> for crate::error::AppError {
    fn from(refusal: ExportRefusal) -> Self {
        match refusal {
            ExportRefusal::NotApproved => Self::ExportNotApproved,
            ExportRefusal::Spent => Self::ExportSpent,
        }
    }
}

/// The SHA-256 of an exported key: what the desk keeps of it (never the key), to recognise it
/// when the dialog asks to copy it and when the clipboard is checked before it is cleared.
pub fn key_digest(key: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(key.as_bytes()).into()
}
