//! Request and response bodies, named after api-core's models (A:`src/models/<Model>.js`).
//!
//! Optional fields are skipped when absent, as the generated `ToJSON` does; unknown response
//! fields are ignored, so a server that adds fields never breaks the client.

use crate::scope::TokenScope;
use crate::secret::Secret;
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

// ---------------------------------------------------------------- step-up check

/// `StepUpCheckRequest`: the only field is the scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepUpCheckRequest {
    /// The scope the caller is about to use.
    pub scope: TokenScope,
}

/// `StepUpCheckResponse`. `credentials` is required: a body without it does not parse, which
/// the client turns into "required" (the SDK's behaviour, §1.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepUpCheck {
    /// Whether the caller must verify before using the scope.
    pub is_required: bool,
    /// The credentials the user may verify with.
    pub credentials: Vec<StepUpCredential>,
    /// The recommended credential: MFA: default or newest device; re-auth: the sign-in credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_credential_id: Option<String>,
}

impl StepUpCheck {
    /// The fail-closed answer: required, with no credentials.
    pub fn required() -> Self {
        Self {
            is_required: true,
            credentials: Vec::new(),
            default_credential_id: None,
        }
    }
    /// The answer of the local fast path: not required.
    pub fn satisfied() -> Self {
        Self {
            is_required: false,
            credentials: Vec::new(),
            default_credential_id: None,
        }
    }
}

/// `StepUpCredential`: one way the user can verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUpCredential {
    /// Credential or MFA device id.
    pub id: String,
    /// What kind of credential it is.
    pub format: CredentialFormat,
    /// Separates MFA device kinds that share a format (`totp`, `passkey`).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// A human label (device alias, masked email or phone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

// ---------------------------------------------------------------- users and sessions

/// `JwtVerifiedCredential`, the fields we use. Note the snake_case keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtVerifiedCredential {
    /// Credential id.
    pub id: String,
    /// Credential kind.
    pub format: CredentialFormat,
    /// Whether it can be used to sign in.
    #[serde(default)]
    pub sign_in_enabled: bool,
    /// Wallet address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Chain of a wallet (`EVM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number (national part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// `public_identifier` (snake_case on the wire).
    #[serde(
        rename = "public_identifier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub public_identifier: Option<String>,
    /// `wallet_name` (snake_case on the wire).
    #[serde(
        rename = "wallet_name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub wallet_name: Option<String>,
    /// `wallet_provider` (snake_case on the wire).
    #[serde(
        rename = "wallet_provider",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub wallet_provider: Option<String>,
    /// `oauth_provider` (snake_case on the wire).
    #[serde(
        rename = "oauth_provider",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub oauth_provider: Option<String>,
    /// `oauth_username` (snake_case on the wire).
    #[serde(
        rename = "oauth_username",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub oauth_username: Option<String>,
    /// `oauth_account_id` (snake_case on the wire).
    #[serde(
        rename = "oauth_account_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub oauth_account_id: Option<String>,
    /// `embedded_wallet_id` (snake_case on the wire).
    #[serde(
        rename = "embedded_wallet_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub embedded_wallet_id: Option<String>,
}

/// `SdkUser`, the fields we use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SdkUser {
    /// User id.
    pub id: String,
    /// Environment (project) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    /// Primary email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Primary phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Session id; changes when a step-up rotates the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Space-separated session scopes (`requiresAdditionalAuth` ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The user's credentials.
    #[serde(default)]
    pub verified_credentials: Vec<JwtVerifiedCredential>,
}

/// `VerifyResponse` (and the superset `UpdateSelfResponse`): what every sign-in and
/// verification returns. The client replaces its session with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResponse {
    /// The signed-in user.
    pub user: SdkUser,
    /// Session expiry, unix **seconds**.
    pub expires_at: i64,
    /// Full session JWT (`legacyToken`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwt: Option<Secret>,
    /// The session JWT sent as `Authorization: Bearer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minified_jwt: Option<Secret>,
    /// The legacy per-action MFA token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<Secret>,
    /// The elevated access token minted for `requestedScopes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elevated_access_token: Option<Secret>,
    /// `UpdateSelfResponse.nextView` on post-login OTP verify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_view: Option<String>,
}

// ---------------------------------------------------------------- OTP

/// `EmailVerificationCreateRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailVerificationCreateRequest {
    /// Where the code goes.
    pub email: String,
    /// Captcha token, when the project requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha_token: Option<String>,
}

/// `EmailVerificationCreateResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailVerificationCreateResponse {
    /// Identifies this verification in the verify call. Note the upper-case `UUID`.
    #[serde(rename = "verificationUUID")]
    pub verification_uuid: String,
    /// The address the code was sent to.
    pub email: String,
}

/// `SmsVerificationCreateRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsVerificationCreateRequest {
    /// Dialling prefix without `+` (`"1"`, `"44"`).
    pub phone_country_code: String,
    /// National number.
    pub phone_number: String,
    /// ISO 3166 alpha-2 (`"US"`).
    pub iso_country_code: String,
    /// Captcha token, when the project requires one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha_token: Option<String>,
}

/// `SmsVerificationCreateResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsVerificationCreateResponse {
    /// Identifies this verification in the verify call.
    #[serde(rename = "verificationUUID")]
    pub verification_uuid: String,
    /// National number.
    pub phone_number: String,
    /// Dialling prefix.
    pub phone_country_code: String,
    /// ISO country.
    pub iso_country_code: String,
}

/// `EmailVerificationVerifyRequest` / `SmsVerificationVerifyRequest` (signed-in step-up path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtpVerifyRequest {
    /// From the create response.
    #[serde(rename = "verificationUUID")]
    pub verification_uuid: String,
    /// The 6-digit code.
    pub verification_token: Secret,
    /// Scopes to mint an elevated token for; absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_scopes: Option<Vec<TokenScope>>,
}

/// `emailVerifications/signin` / `smsVerifications/signin` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OtpSignInRequest {
    /// From the create response.
    #[serde(rename = "verificationUUID")]
    pub verification_uuid: String,
    /// The 6-digit code.
    pub verification_token: Secret,
    /// Ask for a `credential:link` token when MFA is optional and the user has none.
    #[serde(
        rename = "allowNewMFALinking",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub allow_new_mfa_linking: Option<bool>,
}

// ---------------------------------------------------------------- MFA

/// `CreateMfaToken` (legacy per-action flow).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateMfaToken {
    /// Whether the MFA token is single-use.
    pub single_use: bool,
}

/// `MFAAuthTotpDevicePostRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TotpAuthRequest {
    /// The TOTP device; the default one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The 6-digit code.
    pub code: Secret,
    /// Legacy MFA token request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_mfa_token: Option<CreateMfaToken>,
    /// Scopes to mint an elevated token for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_scopes: Option<Vec<TokenScope>>,
}

/// `MFAAuthRecoveryDevicePostRequest`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryAuthRequest {
    /// One of the user's recovery codes.
    pub code: Secret,
    /// Legacy MFA token request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_mfa_token: Option<CreateMfaToken>,
    /// Scopes to mint an elevated token for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_scopes: Option<Vec<TokenScope>>,
}

/// `MFADevice`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MfaDevice {
    /// `totp`, `passkey` or `email`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Whether the device finished registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// Device id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// RFC 3339 creation time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RFC 3339 verification time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<String>,
    /// Whether this is the default device (JSON key `default`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
    /// Human label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

/// `GET users/mfa` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MfaDevicesResponse {
    /// Number of devices.
    pub count: u32,
    /// The devices.
    pub devices: Vec<MfaDevice>,
}

/// `GET users/mfa/register/totp` response (needs a `credential:link` token).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TotpRegistration {
    /// The new device's id.
    pub id: String,
    /// Always `totp`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Base32 shared secret.
    pub secret: Secret,
    /// `otpauth://` URI for authenticator apps.
    pub uri: Secret,
}

/// `POST users/mfa/register/totp` body: confirms the device with a first code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TotpRegisterVerifyRequest {
    /// Always `totp`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A current code.
    pub code: Secret,
}

/// `GET|POST users/mfa/recovery` response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryCodesResponse {
    /// Number of codes.
    pub count: u32,
    /// The codes (returned once, at creation).
    pub recovery_codes: Vec<Secret>,
}

// ---------------------------------------------------------------- external auth

/// `POST externalAuth/verify` body: a customer-signed assertion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAuthVerifyRequest {
    /// The assertion JWT (`sub`, `scope`, `jti`, `exp`).
    pub jwt: Secret,
}

/// `ExternalAuthAssertionResponse`. The session is not rotated.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalAuthAssertionResponse {
    /// The elevated token.
    pub elevated_access_token: Secret,
}

// ---------------------------------------------------------------- nonces, settings

/// `GET nonces?count=N` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoncesResponse {
    /// Single-use nonces.
    pub nonces: Vec<String>,
}

/// `GET nonce` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NonceResponse {
    /// One single-use nonce.
    pub nonce: String,
}

// ---------------------------------------------------------------- wallet (SIWE)

/// `VerifyRequest` for `POST wallets/verify` (step-up with an external wallet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WalletVerifyRequest {
    /// EIP-191 signature, 0x-hex.
    pub signed_message: String,
    /// The SIWE-style message that was signed.
    pub message_to_sign: String,
    /// The wallet's address.
    pub public_wallet_address: String,
    /// `EVM`, `SOL` ...
    pub chain: String,
    /// Lower-case name plus chain, e.g. `metamaskevm`.
    pub wallet_name: String,
    /// `browserExtension`, `walletConnect` ...
    pub wallet_provider: String,
    /// Chain id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Scopes to mint an elevated token for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_scopes: Option<Vec<TokenScope>>,
}

// ---------------------------------------------------------------- social

/// `POST providers/{p}/initAuth` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OauthInitAuthRequest {
    /// 32 random alphanumerics, echoed back as `dynamicOauthState`.
    pub state: String,
    /// Where the authority sends the browser back.
    pub redirect_url: String,
}

/// `OauthRequest` for `POST providers/{p}/verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OauthVerifyRequest {
    /// `dynamicOauthCode`.
    pub code: Secret,
    /// PKCE verifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_verifier: Option<Secret>,
    /// `dynamicOauthState`.
    pub state: String,
    /// Scopes to mint an elevated token for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_scopes: Option<Vec<TokenScope>>,
}

// ---------------------------------------------------------------- passkeys

/// One entry of `allowCredentials`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeyAllowCredential {
    /// base64url credential id.
    pub id: String,
    /// `usb`, `internal`, `hybrid` ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<String>>,
}

/// `GetPasskeyAuthenticationOptionsResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyAuthenticationOptions {
    /// base64url challenge.
    pub challenge: String,
    /// Milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Relying party id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rp_id: Option<String>,
    /// `discouraged|preferred|required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<String>,
    /// The user's passkeys; empty or absent means "no passkey credentials".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<Vec<PasskeyAllowCredential>>,
}

/// `AuthenticatorAssertionResponse` (all base64url).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyAssertionResponse {
    /// Note the capital `JSON`.
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// Authenticator data.
    pub authenticator_data: String,
    /// Signature.
    pub signature: String,
    /// User handle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_handle: Option<String>,
}

/// `PasskeyAuthRequest` for `POST users/mfa/auth/passkey`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyAuthRequest {
    /// Credential id (base64url).
    pub id: String,
    /// Same as `id`.
    pub raw_id: String,
    /// The assertion.
    pub response: PasskeyAssertionResponse,
    /// `platform|cross-platform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// Client extension results (an object, usually empty).
    #[serde(default)]
    pub client_extension_results: serde_json::Value,
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Scopes to mint an elevated token for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_scopes: Option<Vec<TokenScope>>,
}

/// `PublicKeyCredentialRpEntity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeyRelyingParty {
    /// The RP id (a domain); the origin's host when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Display name.
    pub name: String,
}

/// `PublicKeyCredentialUserEntity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyUser {
    /// base64url user handle (opaque, not the user id as text).
    pub id: String,
    /// Account name (`alice@example.com`).
    pub name: String,
    /// Human name.
    pub display_name: String,
}

/// `PublicKeyCredentialParameters`: one acceptable COSE algorithm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeyCredentialParam {
    /// COSE algorithm: -7 ES256, -8 EdDSA, -257 RS256 ...
    pub alg: i64,
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `PublicKeyCredentialDescriptor` (`excludeCredentials`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeyCredentialDescriptor {
    /// base64url credential id.
    pub id: String,
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `usb`, `internal`, `hybrid` ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<String>>,
}

/// `AuthenticatorSelectionCriteria`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyAuthenticatorSelection {
    /// `platform|cross-platform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// Legacy resident-key flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_resident_key: Option<bool>,
    /// `discouraged|preferred|required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resident_key: Option<String>,
    /// `discouraged|preferred|required`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verification: Option<String>,
}

/// `PublicKeyCredentialCreationOptions` as JSON: `GET users/passkeys/register`, and the
/// `registration` of `GET users/mfa/register/passkey`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyRegistrationOptions {
    /// base64url challenge.
    pub challenge: String,
    /// The relying party.
    pub rp: PasskeyRelyingParty,
    /// The account the passkey is for.
    pub user: PasskeyUser,
    /// Acceptable algorithms, preferred first.
    pub pub_key_cred_params: Vec<PasskeyCredentialParam>,
    /// Milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// `none|indirect|direct|enterprise`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<String>,
    /// Which authenticators may answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_selection: Option<PasskeyAuthenticatorSelection>,
    /// Credentials the user already has (an authenticator holding one must refuse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_credentials: Option<Vec<PasskeyCredentialDescriptor>>,
    /// Registration extensions, passed through as they came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extensions: Option<serde_json::Value>,
    /// `hybrid|security-key|client-device`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hints: Option<Vec<String>>,
}

/// `GET users/mfa/register/passkey` response (needs a `credential:link` token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MfaPasskeyRegistration {
    /// The new MFA device's id, echoed in the POST.
    pub id: String,
    /// Always `passkey`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The creation options.
    pub registration: PasskeyRegistrationOptions,
}

/// `AuthenticatorAttestationResponse` of the MFA registration (all base64url).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyAttestationResponse {
    /// Note the capital `JSON` (unlike [`PasskeyRegisterResponse`]).
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    /// CBOR attestation object.
    pub attestation_object: String,
    /// Authenticator data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_data: Option<String>,
    /// COSE algorithm of the new key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key_algorithm: Option<i64>,
    /// SPKI of the new key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// `usb`, `internal` ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<String>>,
}

/// The new credential of `POST users/mfa/register/passkey`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyAttestation {
    /// Credential id (base64url).
    pub id: String,
    /// Same as `id`.
    pub raw_id: String,
    /// The attestation.
    pub response: PasskeyAttestationResponse,
    /// `platform|cross-platform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// Client extension results (an object, usually empty).
    #[serde(default)]
    pub client_extension_results: serde_json::Value,
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `POST users/mfa/register/passkey` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MfaPasskeyRegisterRequest {
    /// The device id from the GET.
    pub id: String,
    /// The new credential.
    pub attestation: PasskeyAttestation,
}

/// The attestation inside `PasskeyRegisterRequest` (account passkeys). Note **`clientDataJson`**.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyRegisterResponse {
    /// Lower-case `son`: the SDK renames the field for this model.
    #[serde(rename = "clientDataJson")]
    pub client_data_json: String,
    /// CBOR attestation object.
    pub attestation_object: String,
    /// `usb`, `internal` ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<String>>,
    /// SPKI of the new key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// `PasskeyRegisterRequest` for `POST users/passkeys/register`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyRegisterRequest {
    /// Credential id (base64url).
    pub id: String,
    /// Same as `id`.
    pub raw_id: String,
    /// The attestation.
    pub response: PasskeyRegisterResponse,
    /// `platform|cross-platform`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_attachment: Option<String>,
    /// Client extension results (an object, usually empty).
    #[serde(default)]
    pub client_extension_results: serde_json::Value,
    /// Always `public-key`.
    #[serde(rename = "type")]
    pub kind: String,
}

// ---------------------------------------------------------------- scope-protected actions

/// `DELETE users/passkeys` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletePasskeyRequest {
    /// The passkey to remove.
    pub passkey_id: String,
}

/// `ExportWaasWalletPrivateKeyRequest` for `POST waas/{walletId}/privateKey/export`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportPrivateKeyRequest {
    /// Caller-chosen id of this export.
    pub export_id: String,
    /// Key share set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_set_id: Option<String>,
    /// Address type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_type: Option<String>,
}

/// What the sandbox answers to an export. Dynamic runs an MPC ceremony over SSE here; the
/// sandbox holds a plain demo key and returns it in JSON (see the sandbox README).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportPrivateKeyResponse {
    /// The export's id, echoed.
    pub export_id: String,
    /// The wallet's address.
    pub address: String,
    /// The private key, 0x-hex.
    pub private_key: Secret,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn step_up_check_parses_the_sdk_shape_and_unknown_formats() {
        let v = json!({"isRequired": true, "credentials": [
            {"id": "d1", "format": "totp", "type": "totp", "alias": "Phone"},
            {"id": "c2", "format": "retina"}
        ], "defaultCredentialId": "d1", "extra": 1});
        let c: StepUpCheck = serde_json::from_value(v).unwrap();
        assert!(c.is_required);
        assert_eq!(
            c.credentials[1].format,
            CredentialFormat::Unknown("retina".into())
        );
        assert_eq!(c.default_credential_id.as_deref(), Some("d1"));
    }

    #[test]
    fn step_up_check_without_credentials_does_not_parse() {
        assert!(serde_json::from_value::<StepUpCheck>(json!({"isRequired": false})).is_err());
    }

    #[test]
    fn requests_use_the_exact_wire_keys() {
        let otp = OtpVerifyRequest {
            verification_uuid: "u".into(),
            verification_token: "123456".into(),
            requested_scopes: Some(vec![TokenScope::WalletExport]),
        };
        assert_eq!(
            serde_json::to_value(&otp).unwrap(),
            json!({"verificationUUID": "u", "verificationToken": "123456", "requestedScopes": ["wallet:export"]})
        );
        let totp = TotpAuthRequest {
            id: None,
            code: "1".into(),
            create_mfa_token: None,
            requested_scopes: None,
        };
        assert_eq!(serde_json::to_value(&totp).unwrap(), json!({"code": "1"}));
        let signin = OtpSignInRequest {
            verification_uuid: "u".into(),
            verification_token: "1".into(),
            allow_new_mfa_linking: Some(true),
        };
        assert_eq!(
            serde_json::to_value(&signin).unwrap()["allowNewMFALinking"],
            json!(true)
        );
        let cred: JwtVerifiedCredential = serde_json::from_value(json!({
            "id": "w", "format": "blockchain", "signInEnabled": true, "wallet_name": "metamask", "public_identifier": "0xabc"
        })).unwrap();
        assert_eq!(cred.wallet_name.as_deref(), Some("metamask"));
        assert_eq!(cred.public_identifier.as_deref(), Some("0xabc"));
    }

    #[test]
    fn passkey_bodies_use_the_exact_wire_keys() {
        let auth = PasskeyAuthRequest {
            id: "c".into(),
            raw_id: "c".into(),
            response: PasskeyAssertionResponse {
                client_data_json: "cd".into(),
                authenticator_data: "ad".into(),
                signature: "sg".into(),
                user_handle: None,
            },
            authenticator_attachment: None,
            client_extension_results: json!({}),
            kind: "public-key".into(),
            requested_scopes: Some(vec![TokenScope::WalletExport]),
        };
        assert_eq!(
            serde_json::to_value(&auth).unwrap(),
            json!({"id": "c", "rawId": "c", "type": "public-key", "clientExtensionResults": {},
                   "response": {"clientDataJSON": "cd", "authenticatorData": "ad", "signature": "sg"},
                   "requestedScopes": ["wallet:export"]})
        );
        let account = PasskeyRegisterRequest {
            id: "c".into(),
            raw_id: "c".into(),
            response: PasskeyRegisterResponse {
                client_data_json: "cd".into(),
                attestation_object: "ao".into(),
                transports: None,
                public_key: None,
            },
            authenticator_attachment: Some("platform".into()),
            client_extension_results: json!({}),
            kind: "public-key".into(),
        };
        let v = serde_json::to_value(&account).unwrap();
        assert_eq!(
            v["response"],
            json!({"clientDataJson": "cd", "attestationObject": "ao"})
        );
        assert_eq!(v["rawId"], json!("c"));
        assert_eq!(v["authenticatorAttachment"], json!("platform"));
        let mfa = MfaPasskeyRegisterRequest {
            id: "d1".into(),
            attestation: PasskeyAttestation {
                id: "c".into(),
                raw_id: "c".into(),
                response: PasskeyAttestationResponse {
                    client_data_json: "cd".into(),
                    attestation_object: "ao".into(),
                    authenticator_data: None,
                    public_key_algorithm: Some(-7),
                    public_key: None,
                    transports: None,
                },
                authenticator_attachment: None,
                client_extension_results: json!({}),
                kind: "public-key".into(),
            },
        };
        let v = serde_json::to_value(&mfa).unwrap();
        assert_eq!(
            v["attestation"]["response"],
            json!({"clientDataJSON": "cd", "attestationObject": "ao", "publicKeyAlgorithm": -7})
        );
        assert_eq!(v["attestation"]["clientExtensionResults"], json!({}));
    }

    #[test]
    fn passkey_options_parse_the_api_shapes() {
        let reg: MfaPasskeyRegistration = serde_json::from_value(json!({
            "id": "d1", "type": "passkey", "registration": {
                "challenge": "Y2g", "rp": {"id": "app.stepup.example", "name": "Stepup"},
                "user": {"id": "dQ", "name": "a@example.com", "displayName": "A"},
                "pubKeyCredParams": [{"alg": -7, "type": "public-key"}, {"alg": -257, "type": "public-key"}],
                "timeout": 60000, "attestation": "none",
                "authenticatorSelection": {"residentKey": "discouraged", "requireResidentKey": false, "userVerification": "required"},
                "excludeCredentials": [{"id": "eA", "type": "public-key"}],
                "extensions": {"credProps": true}
            }
        })).unwrap();
        assert_eq!(reg.registration.user.display_name, "A");
        assert_eq!(reg.registration.pub_key_cred_params[1].alg, -257);
        let sel = reg.registration.authenticator_selection.unwrap();
        assert_eq!(sel.user_verification.as_deref(), Some("required"));
        let opts: PasskeyAuthenticationOptions = serde_json::from_value(json!({
            "challenge": "Y2g", "timeout": 60000, "rpId": "app.stepup.example",
            "userVerification": "required", "allowCredentials": [{"id": "eA", "type": "public-key"}]
        }))
        .unwrap();
        assert_eq!(opts.allow_credentials.map(|c| c.len()), Some(1));
    }
}
