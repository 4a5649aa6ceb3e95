//! Deep links are hostile input: [`StepUpRequest::parse`] turns one into a validated request
//! that does nothing by itself, or says why it was refused.
//!
//! The accepted shape, and nothing else:
//!
//! ```text
//! com.stepup.desktop://step-up?scope=<TokenScope>&requester=<name>[&return_to=<https URL>]
//!     [&match=<2 digits>][&sig=<compact JWS, ES256>]
//! ```
//!
//! `match` is the number the requesting page shows (number matching, see the desk); `sig` signs
//! the request's fields with a key registered for the requester (`signed.rs`): only then is
//! the requester shown as verified.
//!
//! The parser works on the raw string rather than on a general URL parser, because a general
//! parser normalises (case, dots, IDNA, `\` to `/`, default ports) and what it forgives is
//! exactly what an attacker would use. Every rule below is checked before any network or
//! keychain work starts; a deep link only ever opens the dialog.

use std::collections::BTreeSet;
use std::fmt;
use stepup_protocol::{Secret, TokenScope};

/// The URL scheme the app registers (reverse DNS of the identifier, RFC 8252 §7.1).
pub const SCHEME: &str = "com.stepup.desktop";
/// The only action a deep link may ask for.
pub const ACTION_STEP_UP: &str = "step-up";
/// The host of the social sign-in's redirect on the app's scheme: not an action a link asks
/// for, the answer to a sign-in this app started ([`SocialCallbackLink`]).
pub const ACTION_OAUTH_CALLBACK: &str = "oauth-callback";
/// The redirect URL the social sign-in gives Dynamic where no loopback port can be opened
/// (RFC 8252 §7.1); Dynamic must have it on the environment's mobile deep link allow-list.
pub const SOCIAL_CALLBACK_URL: &str = "com.stepup.desktop://oauth-callback";
/// The most query parameters a social callback link may have.
pub const MAX_CALLBACK_PARAMS: usize = 16;
/// The longest deep link accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// The longest requester name accepted, in characters.
pub const MAX_REQUESTER_CHARS: usize = 64;

/// A step-up request that came in through a deep link, validated. Holding one proves only
/// that the link was well formed: the user still has to approve it in the dialog.
///
/// The fields are private: a request is made only by [`StepUpRequest::parse`] or, for the
/// app's own actions, by [`StepUpRequest::own`], so every one that exists passed their rules.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepUpRequest {
    /// The scope the requester wants an elevated token for; always a known scope.
    scope: TokenScope,
    /// Who asks, as the link names it: 1 to [`MAX_REQUESTER_CHARS`] printable characters,
    /// no leading or trailing space. Shown to the user verbatim (never as HTML).
    requester: String,
    /// Where to send the user back afterwards; its origin is on the allow-list.
    return_to: Option<String>,
    /// Made by the app for its own action, not parsed from a link.
    #[serde(skip)]
    own: bool,
    /// The two-digit number the requesting page shows (`match`), if the link has one.
    #[serde(skip)]
    match_code: Option<u8>,
    /// The link's `sig` as it came (a compact JWS, not yet verified).
    #[serde(skip)]
    signature: Option<String>,
    /// The registered key (`kid`) whose signature over this request verified.
    #[serde(skip)]
    verified_by: Option<String>,
    /// The link's `assertion`: a server-issued confirmation (the customer's backend signed it
    /// for the user, BYOA), not yet checked: the dialog checks it against the environment's
    /// published key before it offers it, and exchanges it only when the user approves.
    #[serde(skip)]
    assertion: Option<Secret>,
}

/// Why a deep link was refused. Each message is shown in the app's error view.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeepLinkError {
    /// Longer than [`MAX_URL_BYTES`].
    #[error("the link is too long ({0} bytes; at most {MAX_URL_BYTES} are accepted)")]
    TooLong(usize),
    /// A raw character outside printable ASCII (spaces, controls, non-ASCII).
    #[error("the link contains a character that is not allowed in a link (at byte {0})")]
    BadCharacter(usize),
    /// Not `com.stepup.desktop://`.
    #[error("the link is not a Stepup Desktop link")]
    WrongScheme,
    /// The action (host) is not `step-up`.
    #[error("the link asks for an action this app does not know")]
    UnknownAction,
    /// A path other than empty or `/`, or a fragment.
    #[error("the link has parts this app does not accept (a path or a fragment)")]
    UnexpectedParts,
    /// A query parameter that is not `scope`, `requester` or `return_to`.
    #[error("the link has a parameter this app does not know: {0}")]
    UnknownParameter(String),
    /// The same parameter twice.
    #[error("the link repeats the parameter {0}")]
    DuplicateParameter(&'static str),
    /// A required parameter is missing or empty.
    #[error("the link lacks the parameter {0}")]
    MissingParameter(&'static str),
    /// A malformed `%` escape, an escape that decodes to invalid UTF-8, or double encoding.
    #[error("the link's {0} is encoded in a way this app does not accept")]
    BadEncoding(&'static str),
    /// The scope is not one this build knows.
    #[error("the link asks for a permission this app does not know: {0}")]
    UnknownScope(String),
    /// The requester name is empty, too long, or has invisible or control characters.
    #[error("the link's requester name is not acceptable: {0}")]
    BadRequester(&'static str),
    /// `return_to` is not an https (or loopback http) URL on the allow-list.
    #[error("the link wants to return to a place this app does not trust: {0}")]
    ReturnToNotAllowed(String),
    /// `match` is not two digits.
    #[error("the link's number to match must be two digits")]
    BadMatch,
    /// `sig` is not a compact JWS of a bounded size.
    #[error("the link's signature is not well formed")]
    MalformedSignature,
    /// `assertion` is not a compact JWS of a bounded size.
    #[error("the link's confirmation from your app's server is not well formed")]
    MalformedAssertion,
    /// The link is signed, and the signature does not hold; the text says why.
    #[error("the link's signature is refused: {0}")]
    SignatureRefused(&'static str),
    /// A social callback link with more than [`MAX_CALLBACK_PARAMS`] parameters.
    #[error("the sign-in answer has too many parameters (at most {MAX_CALLBACK_PARAMS})")]
    TooManyParameters,
}

/// The social sign-in's redirect, back on the app's scheme, checked for its shape only:
///
/// ```text
/// com.stepup.desktop://oauth-callback[/]?dynamicOauthState=…&(dynamicOauthCode=…|dynamicOauthError=…)
/// ```
///
/// At most [`MAX_URL_BYTES`], printable ASCII, no fragment, at most [`MAX_CALLBACK_PARAMS`]
/// parameters, none of Dynamic's three twice, a `dynamicOauthState`. What it says (the state
/// against the stored one, the code) is the client's to check, on the same path as a loopback
/// redirect. Holding one approves nothing: it only goes to the sign-in waiting for it, if any.
#[derive(Clone, PartialEq, Eq)]
pub struct SocialCallbackLink {
    /// The query without `?`, still percent-encoded, as Dynamic wrote it.
    query: String,
}

impl fmt::Debug for SocialCallbackLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // It carries an OAuth code and the state.
        write!(
            f,
            "SocialCallbackLink(<{} bytes redacted>)",
            self.query.len()
        )
    }
}

impl SocialCallbackLink {
    /// Whether `raw` is meant as a social callback (the app's scheme, host `oauth-callback`),
    /// whatever else is wrong with it: such a link is never a step-up request.
    pub fn is_callback(raw: &str) -> bool {
        let raw = raw.get(..raw.len().min(MAX_URL_BYTES + 1)).unwrap_or(raw);
        strip_prefix_ignore_ascii_case(raw, SCHEME)
            .and_then(|r| r.strip_prefix("://"))
            .and_then(|r| strip_prefix_ignore_ascii_case(r, ACTION_OAUTH_CALLBACK))
            .is_some_and(|r| r.is_empty() || r.starts_with(['/', '?', '#']))
    }

    /// Checks the callback's shape (see the type's documentation).
    pub fn parse(raw: &str) -> Result<Self, DeepLinkError> {
        if raw.len() > MAX_URL_BYTES {
            return Err(DeepLinkError::TooLong(raw.len()));
        }
        if let Some(at) = raw.bytes().position(|b| !(0x21..=0x7e).contains(&b)) {
            return Err(DeepLinkError::BadCharacter(at));
        }
        let rest = strip_prefix_ignore_ascii_case(raw, SCHEME)
            .and_then(|r| r.strip_prefix("://"))
            .ok_or(DeepLinkError::WrongScheme)?;
        if rest.contains('#') {
            return Err(DeepLinkError::UnexpectedParts);
        }
        let (host_and_path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let path = strip_prefix_ignore_ascii_case(host_and_path, ACTION_OAUTH_CALLBACK)
            .ok_or(DeepLinkError::UnknownAction)?;
        if !matches!(path, "" | "/") {
            return Err(DeepLinkError::UnexpectedParts);
        }
        let mut seen = [false; 3];
        for (count, pair) in query.split('&').filter(|p| !p.is_empty()).enumerate() {
            if count == MAX_CALLBACK_PARAMS {
                return Err(DeepLinkError::TooManyParameters);
            }
            let key = pair.split_once('=').map_or(pair, |(k, _)| k);
            let (slot, name) = match key {
                "dynamicOauthState" => (0, "dynamicOauthState"),
                "dynamicOauthCode" => (1, "dynamicOauthCode"),
                "dynamicOauthError" => (2, "dynamicOauthError"),
                // Dynamic may add parameters of its own: the client reads only its three.
                _ => continue,
            };
            if std::mem::replace(&mut seen[slot], true) {
                return Err(DeepLinkError::DuplicateParameter(name));
            }
        }
        if !seen[0] {
            return Err(DeepLinkError::MissingParameter("dynamicOauthState"));
        }
        Ok(Self {
            query: query.to_owned(),
        })
    }

    /// The query without `?`, still percent-encoded.
    pub fn query(&self) -> &str {
        &self.query
    }
}

/// Origins (`scheme://host[:port]`) a `return_to` may point at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReturnToAllowList {
    origins: BTreeSet<String>,
}

impl ReturnToAllowList {
    /// An allow-list of exact origins, e.g. `https://app.example.com`. Entries that are not
    /// a bare origin (a path, a query, userinfo, a non-http scheme) are ignored.
    pub fn new<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let origins = origins
            .into_iter()
            .filter_map(|o| {
                let url = url::Url::parse(o.as_ref().trim()).ok()?;
                let bare = matches!(url.path(), "" | "/")
                    && url.query().is_none()
                    && url.fragment().is_none();
                (bare && is_acceptable_return_url(&url)).then(|| url.origin().ascii_serialization())
            })
            .collect();
        Self { origins }
    }

    /// True when `url`'s origin is on the list.
    fn allows(&self, url: &url::Url) -> bool {
        self.origins.contains(&url.origin().ascii_serialization())
    }

    /// The origins, for display.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.origins.iter().map(String::as_str)
    }
}

/// https anywhere, http only to the loopback interface; no userinfo.
fn is_acceptable_return_url(url: &url::Url) -> bool {
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    scheme_ok && url.username().is_empty() && url.password().is_none() && url.host_str().is_some()
}

impl StepUpRequest {
    /// A request of the app itself (an action of its main window that needs a step-up): the
    /// requester is the app's own name, there is no `return_to`.
    pub fn own(scope: TokenScope, requester: &'static str) -> Self {
        Self {
            scope,
            requester: requester.to_owned(),
            return_to: None,
            own: true,
            match_code: None,
            signature: None,
            verified_by: None,
            assertion: None,
        }
    }

    /// "Verify again" after a spent export: a new `wallet:export` request of the requester
    /// (and `return_to`) of a request that was parsed or made before.
    pub(crate) fn reopened_export(requester: &str, return_to: Option<&str>) -> Self {
        Self {
            scope: TokenScope::WalletExport,
            requester: requester.to_owned(),
            return_to: return_to.map(str::to_owned),
            own: false,
            match_code: None,
            signature: None,
            verified_by: None,
            assertion: None,
        }
    }

    /// Whether the app itself made it ([`StepUpRequest::own`]), rather than a link.
    pub fn is_own(&self) -> bool {
        self.own
    }

    /// The scope asked for (always known).
    pub fn scope(&self) -> &TokenScope {
        &self.scope
    }

    /// Who asks, as the link names it.
    pub fn requester(&self) -> &str {
        &self.requester
    }

    /// Where to go back afterwards (allow-listed).
    pub fn return_to(&self) -> Option<&str> {
        self.return_to.as_deref()
    }

    /// Who this request is from, as far as the app can tell: what an approval is bound to.
    /// An unsigned link is only its claimed name and the origin it returns to; the app's own
    /// requests are the app's. Two requests with different keys never share an approval.
    pub fn requester_key(&self) -> String {
        if self.own {
            return format!("own:{}", self.requester);
        }
        if let Some(kid) = &self.verified_by {
            return format!("signed:{kid}");
        }
        let origin = self.origin().unwrap_or_default();
        format!("claim:{}|{origin}", self.requester)
    }

    /// The origin (`scheme://host[:port]`) of `return_to`, shown beside the requester.
    pub fn origin(&self) -> Option<String> {
        origin_of(self.return_to.as_deref())
    }

    /// The number the requesting page shows, if the link asks for number matching.
    pub fn match_code(&self) -> Option<u8> {
        self.match_code
    }

    /// The key id whose signature verified, if the link was signed and it held.
    pub fn verified_by(&self) -> Option<&str> {
        self.verified_by.as_deref()
    }

    /// The link's unverified signature, if any.
    pub fn signature(&self) -> Option<&str> {
        self.signature.as_deref()
    }

    /// The link's server-issued assertion, unchecked, if it carries one.
    pub fn assertion(&self) -> Option<&Secret> {
        self.assertion.as_ref()
    }

    /// Marks the signature as verified by `kid` (after `signed::verify`).
    pub(crate) fn set_verified_by(&mut self, kid: String) {
        self.verified_by = Some(kid);
    }

    /// Parses and validates one deep link. See the module documentation for the rules.
    pub fn parse(link: &str, allow_list: &ReturnToAllowList) -> Result<Self, DeepLinkError> {
        if link.len() > MAX_URL_BYTES {
            return Err(DeepLinkError::TooLong(link.len()));
        }
        // Raw links are printable ASCII only; anything else must be percent-encoded.
        if let Some(at) = link.bytes().position(|b| !(0x21..=0x7e).contains(&b)) {
            return Err(DeepLinkError::BadCharacter(at));
        }
        let rest = strip_prefix_ignore_ascii_case(link, SCHEME)
            .and_then(|r| r.strip_prefix("://"))
            .ok_or(DeepLinkError::WrongScheme)?;
        if rest.contains('#') {
            return Err(DeepLinkError::UnexpectedParts);
        }
        let (authority_and_path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (host, path) = match authority_and_path.find('/') {
            Some(i) => authority_and_path.split_at(i),
            None => (authority_and_path, ""),
        };
        if host != ACTION_STEP_UP {
            return Err(DeepLinkError::UnknownAction);
        }
        if !matches!(path, "" | "/") {
            return Err(DeepLinkError::UnexpectedParts);
        }

        let mut scope = None;
        let mut requester = None;
        let mut return_to = None;
        let mut match_code = None;
        let mut sig = None;
        let mut assertion = None;
        for pair in query.split('&') {
            if pair.is_empty() {
                // `?` alone, or `&&`: tolerated as nothing, like every URL parser does.
                continue;
            }
            let (key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let (slot, name) = match key {
                "scope" => (&mut scope, "scope"),
                "requester" => (&mut requester, "requester"),
                "return_to" => (&mut return_to, "return_to"),
                "match" => (&mut match_code, "match"),
                "sig" => (&mut sig, "sig"),
                "assertion" => (&mut assertion, "assertion"),
                other => return Err(DeepLinkError::UnknownParameter(printable_excerpt(other))),
            };
            if slot.is_some() {
                return Err(DeepLinkError::DuplicateParameter(name));
            }
            // A return URL may carry escapes of its own (`?q=a%20b`); the other values may not.
            *slot = Some(percent_decode(raw_value, name, name != "return_to")?);
        }

        let scope_text = scope
            .filter(|s| !s.is_empty())
            .ok_or(DeepLinkError::MissingParameter("scope"))?;
        let scope = TokenScope::parse(&scope_text);
        if !scope.is_known() {
            return Err(DeepLinkError::UnknownScope(printable_excerpt(&scope_text)));
        }
        let requester = requester
            .filter(|s| !s.is_empty())
            .ok_or(DeepLinkError::MissingParameter("requester"))?;
        validate_requester(&requester)?;
        let return_to = match return_to {
            None => None,
            Some(text) => Some(validate_return_to(&text, allow_list)?),
        };
        let match_code = match match_code {
            None => None,
            Some(m) if m.len() == 2 && m.bytes().all(|b| b.is_ascii_digit()) => {
                m.parse::<u8>().ok()
            }
            Some(_) => return Err(DeepLinkError::BadMatch),
        };
        let signature = match sig {
            None => None,
            Some(jws) if is_compact_jws(&jws, crate::signed::MAX_SIGNATURE_BYTES) => Some(jws),
            Some(_) => return Err(DeepLinkError::MalformedSignature),
        };
        let assertion = match assertion {
            None => None,
            Some(jwt) if is_compact_jws(&jwt, stepup_protocol::jwt::MAX_JWT_LEN) => {
                Some(Secret::new(jwt))
            }
            Some(_) => return Err(DeepLinkError::MalformedAssertion),
        };
        Ok(Self {
            scope,
            requester,
            return_to,
            own: false,
            match_code,
            signature,
            verified_by: None,
            assertion,
        })
    }
}

/// A compact JWS of at most `max` bytes: three non-empty-headed base64url parts.
fn is_compact_jws(text: &str, max: usize) -> bool {
    text.len() <= max
        && text.split('.').count() == 3
        && !text.starts_with('.')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// The origin of a (validated) return URL, if any.
pub fn origin_of(return_to: Option<&str>) -> Option<String> {
    let url = url::Url::parse(return_to?).ok()?;
    Some(url.origin().ascii_serialization())
}

impl fmt::Display for StepUpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} asks for {}", self.requester, self.scope)
    }
}

fn strip_prefix_ignore_ascii_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    // Schemes are case-insensitive (RFC 3986 §3.1); the text is ASCII by now.
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Decodes `%XX` escapes and `+` (a space, as HTML forms and `URLSearchParams` write it).
/// Refuses a malformed escape, bytes that are not UTF-8 (overlong forms included), and a
/// value that still holds an escape after decoding (double encoding) when `single_layer`.
fn percent_decode(
    raw: &str,
    name: &'static str,
    single_layer: bool,
) -> Result<String, DeepLinkError> {
    let bad = || DeepLinkError::BadEncoding(name);
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let hi = hex_value(hex[0]).ok_or_else(bad)?;
                let lo = hex_value(hex[1]).ok_or_else(bad)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    let decoded = String::from_utf8(out).map_err(|_| bad())?;
    if single_layer && has_percent_escape(&decoded) {
        return Err(bad());
    }
    Ok(decoded)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn has_percent_escape(text: &str) -> bool {
    text.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && hex_value(w[1]).is_some() && hex_value(w[2]).is_some())
}

/// Characters that draw nothing, reorder text, or look like nothing: a requester name with
/// one of them could show the user something other than what it says (a right-to-left
/// override, an invisible join, a private-use glyph, a blank that looks like a space).
///
/// Refused: the Unicode general categories Cc (controls), Cf (format: bidi controls, joiners,
/// tags), Cs, Co (private use), Cn (unassigned: what a later Unicode makes of them is unknown),
/// Zl and Zp (line and paragraph separators); every variation selector; and the letters and
/// marks that draw a blank (Hangul fillers, the Braille blank, the combining grapheme joiner,
/// the Khmer invisible vowels, the Mongolian vowel separator). The table is Unicode 16
/// (`unicode-general-category`); `tests/deep_link.rs` walks all of it.
pub fn is_invisible_or_reordering(c: char) -> bool {
    use unicode_general_category::{get_general_category, GeneralCategory as G};
    let refused_category = matches!(
        get_general_category(c),
        G::Control
            | G::Format
            | G::Surrogate
            | G::PrivateUse
            | G::Unassigned
            | G::LineSeparator
            | G::ParagraphSeparator
    );
    refused_category || is_variation_selector(c) || is_blank_look_alike(c)
}

/// The variation selectors: VS1–16, VS17–256 and the Mongolian free variation selectors.
fn is_variation_selector(c: char) -> bool {
    matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' | '\u{180B}'..='\u{180F}')
}

/// Assigned, "printable" characters that draw nothing at all.
fn is_blank_look_alike(c: char) -> bool {
    matches!(
        c,
        '\u{034F}' // combining grapheme joiner
            | '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' // Hangul fillers
            | '\u{17B4}' | '\u{17B5}' // Khmer inherent vowels
            | '\u{2800}' // Braille pattern blank
            | '\u{1D159}' // musical symbol null notehead
            | '\u{FFFC}' // object replacement character
    )
}

pub(crate) fn validate_requester(requester: &str) -> Result<(), DeepLinkError> {
    if requester.chars().count() > MAX_REQUESTER_CHARS {
        return Err(DeepLinkError::BadRequester(
            "it is longer than 64 characters",
        ));
    }
    if requester
        .chars()
        .any(|c| c.is_control() || is_invisible_or_reordering(c))
    {
        return Err(DeepLinkError::BadRequester(
            "it contains control or invisible characters",
        ));
    }
    if requester.trim() != requester || requester.contains("  ") {
        return Err(DeepLinkError::BadRequester(
            "it has leading, trailing or repeated spaces",
        ));
    }
    if requester.chars().any(|c| c.is_whitespace() && c != ' ') {
        return Err(DeepLinkError::BadRequester("it contains unusual spaces"));
    }
    Ok(())
}

fn validate_return_to(text: &str, allow_list: &ReturnToAllowList) -> Result<String, DeepLinkError> {
    let refused = || DeepLinkError::ReturnToNotAllowed(printable_excerpt(text));
    // The decoded value must itself be a clean absolute URL: no spaces, no controls, no
    // backslashes (which WHATWG parsers turn into `/`).
    if text.is_empty()
        || text
            .bytes()
            .any(|b| !(0x21..=0x7e).contains(&b) || b == b'\\')
    {
        return Err(refused());
    }
    let url = url::Url::parse(text).map_err(|_| refused())?;
    if !is_acceptable_return_url(&url) || !allow_list.allows(&url) {
        return Err(refused());
    }
    Ok(url.to_string())
}

/// At most 40 characters of untrusted text, with anything unprintable replaced, for an
/// error message.
fn printable_excerpt(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(40)
        .map(|c| {
            if c.is_control() || is_invisible_or_reordering(c) {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    out
}
