//! What kind of credential a user holds: `CredentialFormat`, which keeps unknown formats.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `JwtVerifiedCredentialFormatEnum`: the kind of a credential. Unknown values are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CredentialFormat {
    /// A wallet address (`blockchain`).
    Blockchain,
    /// An email address.
    Email,
    /// A social (OAuth) account.
    Oauth,
    /// A passkey.
    Passkey,
    /// A phone number (`phoneNumber`).
    PhoneNumber,
    /// A user of the customer's own auth (`externalUser`).
    ExternalUser,
    /// A TOTP authenticator.
    Totp,
    /// A format this build does not know.
    Unknown(String),
}

impl CredentialFormat {
    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Blockchain => "blockchain",
            Self::Email => "email",
            Self::Oauth => "oauth",
            Self::Passkey => "passkey",
            Self::PhoneNumber => "phoneNumber",
            Self::ExternalUser => "externalUser",
            Self::Totp => "totp",
            Self::Unknown(s) => s,
        }
    }
    /// Parses a wire string; anything unrecognised becomes `Unknown`.
    pub fn parse(s: &str) -> Self {
        match s {
            "blockchain" => Self::Blockchain,
            "email" => Self::Email,
            "oauth" => Self::Oauth,
            "passkey" => Self::Passkey,
            "phoneNumber" => Self::PhoneNumber,
            "externalUser" => Self::ExternalUser,
            "totp" => Self::Totp,
            other => Self::Unknown(other.to_owned()),
        }
    }
}

impl Serialize for CredentialFormat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CredentialFormat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&String::deserialize(d)?))
    }
}
