//! Deep links are hostile input: [`StepUpRequest::parse`] turns one into a validated request
//! that does nothing by itself, or says why it was refused.
//!
//! The accepted shape, and nothing else:
//!
//! ```text
//! com.stepup.desktop://step-up?scope=<TokenScope>&requester=<name>[&return_to=<https URL>]
//! ```
//!
//! The parser works on the raw string rather than on a general URL parser, because a general
//! parser normalises (case, dots, IDNA, `\` to `/`, default ports) and what it forgives is
//! exactly what an attacker would use. Every rule below is checked before any network or
//! keychain work starts; a deep link only ever opens the dialog.

use std::collections::BTreeSet;
use std::fmt;
use stepup_protocol::TokenScope;

/// The URL scheme the app registers (reverse DNS of the identifier, RFC 8252 §7.1).
pub const SCHEME: &str = "com.stepup.desktop";
/// The only action a deep link may ask for.
pub const ACTION_STEP_UP: &str = "step-up";
/// The longest deep link accepted, in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// The longest requester name accepted, in characters.
pub const MAX_REQUESTER_CHARS: usize = 64;

/// A step-up request that came in through a deep link, validated. Holding one proves only
/// that the link was well formed: the user still has to approve it in the dialog.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepUpRequest {
    /// The scope the requester wants an elevated token for; always a known scope.
    pub scope: TokenScope,
    /// Who asks, as the link names it: 1 to [`MAX_REQUESTER_CHARS`] printable characters,
    /// no leading or trailing space. Shown to the user verbatim (never as HTML).
    pub requester: String,
    /// Where to send the user back afterwards; its origin is on the allow-list.
    pub return_to: Option<String>,
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
        Ok(Self {
            scope,
            requester,
            return_to,
        })
    }
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

/// Characters that draw nothing or reorder text: a requester name with one of them could
/// show the user something other than what it says (e.g. a right-to-left override).
fn is_invisible_or_reordering(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

fn validate_requester(requester: &str) -> Result<(), DeepLinkError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn allow() -> ReturnToAllowList {
        ReturnToAllowList::new(["https://app.example.com", "http://127.0.0.1:8080"])
    }

    fn parse(link: &str) -> Result<StepUpRequest, DeepLinkError> {
        StepUpRequest::parse(link, &allow())
    }

    #[test]
    fn well_formed_link_becomes_a_request() {
        let r = parse("com.stepup.desktop://step-up?scope=wallet:export&requester=Acme%20Wallet")
            .unwrap();
        assert_eq!(r.scope, TokenScope::WalletExport);
        assert_eq!(r.requester, "Acme Wallet");
        assert_eq!(r.return_to, None);
    }

    #[test]
    fn parameter_order_trailing_slash_plus_and_scheme_case_are_tolerated() {
        let r = parse("COM.Stepup.Desktop://step-up/?requester=Acme+Wallet&scope=wallet%3Aexport")
            .unwrap();
        assert_eq!(r.scope, TokenScope::WalletExport);
        assert_eq!(r.requester, "Acme Wallet");
    }

    #[test]
    fn unicode_requester_is_accepted_when_printable() {
        let r = parse("com.stepup.desktop://step-up?scope=wallet:sign&requester=Caf%C3%A9%20%E6%9D%B1%E4%BA%AC").unwrap();
        assert_eq!(r.requester, "Café 東京");
    }

    #[test]
    fn return_to_on_the_allow_list_is_kept() {
        let r = parse(
            "com.stepup.desktop://step-up?scope=wallet:export&requester=A&return_to=https%3A%2F%2Fapp.example.com%2Fdone%3Fx%3D1",
        )
        .unwrap();
        assert_eq!(
            r.return_to.as_deref(),
            Some("https://app.example.com/done?x=1")
        );
        let r = parse("com.stepup.desktop://step-up?scope=wallet:export&requester=A&return_to=http://127.0.0.1:8080/back").unwrap();
        assert_eq!(r.return_to.as_deref(), Some("http://127.0.0.1:8080/back"));
        let r = parse("com.stepup.desktop://step-up?scope=wallet:export&requester=A&return_to=https://app.example.com/q%3Fname%3Da%2520b").unwrap();
        assert_eq!(
            r.return_to.as_deref(),
            Some("https://app.example.com/q?name=a%20b"),
            "a return URL keeps its own escapes"
        );
    }

    #[test]
    fn return_to_off_the_allow_list_is_refused() {
        for target in [
            "https://evil.example.com/",
            "https://app.example.com.evil.com/",
            "https://app.example.com@evil.com/",
            "https://user@app.example.com/",
            "http://app.example.com/",       // http to a non-loopback host
            "https://app.example.com:8443/", // another port is another origin
            "http://127.0.0.1:9999/",
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "//app.example.com/",         // relative
            "https:\\\\app.example.com/", // backslashes
            "https://app.example.com\t/", // a control character once decoded
        ] {
            let encoded: String = target
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        char::from(b).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            let link = format!(
                "com.stepup.desktop://step-up?scope=wallet:export&requester=A&return_to={encoded}"
            );
            assert!(
                matches!(parse(&link), Err(DeepLinkError::ReturnToNotAllowed(_))),
                "{target} was accepted"
            );
        }
        let empty_list = ReturnToAllowList::default();
        let link = "com.stepup.desktop://step-up?scope=wallet:export&requester=A&return_to=https://app.example.com/";
        assert!(matches!(
            StepUpRequest::parse(link, &empty_list),
            Err(DeepLinkError::ReturnToNotAllowed(_))
        ));
    }

    #[test]
    fn unknown_scope_is_refused() {
        assert!(matches!(
            parse("com.stepup.desktop://step-up?scope=wallet:teleport&requester=A"),
            Err(DeepLinkError::UnknownScope(s)) if s == "wallet:teleport"
        ));
        assert!(matches!(
            parse("com.stepup.desktop://step-up?scope=WALLET:EXPORT&requester=A"),
            Err(DeepLinkError::UnknownScope(_))
        ));
        assert!(matches!(
            parse("com.stepup.desktop://step-up?scope=wallet:export%20wallet:sign&requester=A"),
            Err(DeepLinkError::UnknownScope(_))
        ));
    }

    #[test]
    fn missing_or_empty_parameters_are_refused() {
        assert_eq!(
            parse("com.stepup.desktop://step-up?requester=A"),
            Err(DeepLinkError::MissingParameter("scope"))
        );
        assert_eq!(
            parse("com.stepup.desktop://step-up?scope=&requester=A"),
            Err(DeepLinkError::MissingParameter("scope"))
        );
        assert_eq!(
            parse("com.stepup.desktop://step-up?scope=wallet:export"),
            Err(DeepLinkError::MissingParameter("requester"))
        );
        assert_eq!(
            parse("com.stepup.desktop://step-up"),
            Err(DeepLinkError::MissingParameter("scope"))
        );
    }

    #[test]
    fn oversize_link_is_refused_before_anything_else() {
        let long = format!(
            "com.stepup.desktop://step-up?scope=wallet:export&requester=A&x={}",
            "a".repeat(3000)
        );
        assert!(matches!(parse(&long), Err(DeepLinkError::TooLong(_))));
        let exactly =
            String::from("com.stepup.desktop://step-up?scope=wallet:export&requester=A&pad=");
        let padded = format!("{exactly}{}", "a".repeat(MAX_URL_BYTES - exactly.len()));
        assert_eq!(padded.len(), MAX_URL_BYTES);
        assert!(matches!(
            parse(&padded),
            Err(DeepLinkError::UnknownParameter(_))
        ));
    }

    #[test]
    fn requester_too_long_is_refused() {
        let name = "a".repeat(MAX_REQUESTER_CHARS + 1);
        let link = format!("com.stepup.desktop://step-up?scope=wallet:export&requester={name}");
        assert!(matches!(parse(&link), Err(DeepLinkError::BadRequester(_))));
        let name = "é".repeat(MAX_REQUESTER_CHARS).replace('é', "%C3%A9");
        let link = format!("com.stepup.desktop://step-up?scope=wallet:export&requester={name}");
        assert!(
            parse(&link).is_ok(),
            "64 two-byte characters are 64 characters"
        );
    }

    #[test]
    fn unknown_action_or_authority_is_refused() {
        for link in [
            "com.stepup.desktop://approve?scope=wallet:export&requester=A",
            "com.stepup.desktop://STEP-UP?scope=wallet:export&requester=A",
            "com.stepup.desktop://user@step-up?scope=wallet:export&requester=A",
            "com.stepup.desktop://step-up:80?scope=wallet:export&requester=A",
            "com.stepup.desktop://step-up.evil.com?scope=wallet:export&requester=A",
            "com.stepup.desktop://?scope=wallet:export&requester=A",
            "com.stepup.desktop:///step-up?scope=wallet:export&requester=A",
            "com.stepup.desktop://step%2Dup?scope=wallet:export&requester=A",
        ] {
            assert_eq!(parse(link), Err(DeepLinkError::UnknownAction), "{link}");
        }
    }

    #[test]
    fn wrong_scheme_is_refused() {
        for link in [
            "https://step-up?scope=wallet:export&requester=A",
            "com.stepup.desktopx://step-up?scope=wallet:export&requester=A",
            "com.stepup.desktop:step-up?scope=wallet:export&requester=A",
            "com.stepup.desktop:/step-up?scope=wallet:export&requester=A",
            "",
        ] {
            assert_eq!(parse(link), Err(DeepLinkError::WrongScheme), "{link}");
        }
    }

    #[test]
    fn paths_and_fragments_are_refused() {
        for link in [
            "com.stepup.desktop://step-up/extra?scope=wallet:export&requester=A",
            "com.stepup.desktop://step-up//?scope=wallet:export&requester=A",
            "com.stepup.desktop://step-up?scope=wallet:export&requester=A#frag",
            "com.stepup.desktop://step-up/..%2F?scope=wallet:export&requester=A",
        ] {
            assert_eq!(parse(link), Err(DeepLinkError::UnexpectedParts), "{link}");
        }
    }

    #[test]
    fn unknown_and_encoded_parameter_names_are_refused() {
        assert!(matches!(
            parse("com.stepup.desktop://step-up?scope=wallet:export&requester=A&approve=true"),
            Err(DeepLinkError::UnknownParameter(p)) if p == "approve"
        ));
        assert!(matches!(
            parse("com.stepup.desktop://step-up?sc%6Fpe=wallet:export&requester=A"),
            Err(DeepLinkError::UnknownParameter(_))
        ));
        assert!(matches!(
            parse("com.stepup.desktop://step-up?Scope=wallet:export&requester=A"),
            Err(DeepLinkError::UnknownParameter(_))
        ));
        assert!(matches!(
            parse("com.stepup.desktop://step-up?scope=wallet:export&requester"),
            Err(DeepLinkError::MissingParameter("requester"))
        ));
    }

    #[test]
    fn duplicate_parameters_are_refused() {
        assert_eq!(
            parse("com.stepup.desktop://step-up?scope=wallet:sign&scope=wallet:export&requester=A"),
            Err(DeepLinkError::DuplicateParameter("scope"))
        );
        assert_eq!(
            parse("com.stepup.desktop://step-up?scope=wallet:export&requester=A&requester=B"),
            Err(DeepLinkError::DuplicateParameter("requester"))
        );
        assert_eq!(
            parse("com.stepup.desktop://step-up?scope=wallet:export&requester=A&return_to=https://app.example.com/&return_to=https://app.example.com/"),
            Err(DeepLinkError::DuplicateParameter("return_to"))
        );
    }

    #[test]
    fn odd_encodings_are_refused() {
        for (value, what) in [
            ("A%", "truncated escape"),
            ("A%4", "truncated escape"),
            ("A%G1", "non-hex escape"),
            ("A%C0%AF", "overlong UTF-8"),
            ("A%ED%A0%80", "UTF-16 surrogate"),
            ("A%FF", "invalid UTF-8"),
            ("A%2541", "double encoding"),
            ("%252e%252e", "double-encoded dots"),
        ] {
            let link =
                format!("com.stepup.desktop://step-up?scope=wallet:export&requester={value}");
            assert_eq!(
                parse(&link),
                Err(DeepLinkError::BadEncoding("requester")),
                "{what}"
            );
        }
        assert_eq!(
            parse("com.stepup.desktop://step-up?scope=wallet%3Gexport&requester=A"),
            Err(DeepLinkError::BadEncoding("scope"))
        );
    }

    #[test]
    fn control_and_invisible_characters_are_refused() {
        // Raw, before decoding.
        for link in [
            "com.stepup.desktop://step-up?scope=wallet:export&requester=A B",
            "com.stepup.desktop://step-up?scope=wallet:export&requester=A\tB",
            "com.stepup.desktop://step-up?scope=wallet:export&requester=A\nB",
            "com.stepup.desktop://step-up?scope=wallet:export&requester=A\u{0}",
            "com.stepup.desktop://step-up?scope=wallet:export&requester=Café",
            "\u{FEFF}com.stepup.desktop://step-up?scope=wallet:export&requester=A",
        ] {
            assert!(
                matches!(parse(link), Err(DeepLinkError::BadCharacter(_))),
                "{link:?}"
            );
        }
        // Percent-encoded.
        for value in [
            "A%00",
            "A%0A",
            "A%0D%0AB",
            "A%1B[31m",
            "A%7F",
            "A%C2%85",             // NUL, LF, CRLF, ESC, DEL, NEL
            "Acme%E2%80%AEtellaW", // right-to-left override
            "Acme%E2%80%8B",       // zero-width space
            "%EF%BB%BFAcme",       // byte order mark
            "A%09B",               // tab
            "A%E2%80%A8B",         // line separator
        ] {
            let link =
                format!("com.stepup.desktop://step-up?scope=wallet:export&requester={value}");
            assert!(
                matches!(parse(&link), Err(DeepLinkError::BadRequester(_))),
                "{value}"
            );
        }
        for value in ["+A", "A+", "A++B", "A%C2%A0B", "%E3%80%80A"] {
            let link =
                format!("com.stepup.desktop://step-up?scope=wallet:export&requester={value}");
            assert!(
                matches!(parse(&link), Err(DeepLinkError::BadRequester(_))),
                "{value}"
            );
        }
    }

    #[test]
    fn html_in_requester_is_kept_as_text() {
        // Printable, so accepted; the UI renders it with textContent, never as markup.
        let r = parse(
            "com.stepup.desktop://step-up?scope=wallet:export&requester=%3Cb%3EAcme%3C%2Fb%3E",
        )
        .unwrap();
        assert_eq!(r.requester, "<b>Acme</b>");
    }

    #[test]
    fn error_messages_never_echo_control_characters() {
        let err = parse("com.stepup.desktop://step-up?scope=wallet%0A%1B:export&requester=A")
            .unwrap_err();
        let text = err.to_string();
        assert!(!text.chars().any(char::is_control), "{text:?}");
    }

    #[test]
    fn allow_list_ignores_entries_that_are_not_bare_origins() {
        let list = ReturnToAllowList::new([
            "https://a.example/path",
            "ftp://b.example",
            "http://c.example",
            "https://d.example/",
            " https://e.example ",
        ]);
        assert_eq!(
            list.origins().collect::<Vec<_>>(),
            vec!["https://d.example", "https://e.example"]
        );
    }
}
