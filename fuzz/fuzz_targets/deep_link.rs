//! The deep-link parser (`StepUpRequest::parse`) on hostile links.
//!
//! Asserts: no panic; an accepted link is at most `MAX_URL_BYTES` of printable ASCII; its
//! scope is known, its requester is 1..=64 characters without controls or outer spaces, its
//! `return_to` is an allow-listed http(s) URL; and the request re-validates: the link rebuilt
//! from its fields parses to the same request (or is refused only as too long).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use stepup_requests::link::{MAX_REQUESTER_CHARS, MAX_URL_BYTES, SCHEME};
use stepup_requests::{DeepLinkError, ReturnToAllowList, StepUpRequest};

fn allow_list() -> &'static ReturnToAllowList {
    static LIST: OnceLock<ReturnToAllowList> = OnceLock::new();
    LIST.get_or_init(|| {
        ReturnToAllowList::new([
            "https://app.example.com",
            "http://127.0.0.1:8080",
            "https://example.org:8443",
            "http://[::1]:3000",
        ])
    })
}

/// Percent-encodes what the parser would read as syntax or refuse raw.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (0x21..=0x7e).contains(&b) && !matches!(b, b'%' | b'&' | b'#' | b'+') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn rebuild(req: &StepUpRequest) -> String {
    let mut link = format!(
        "{SCHEME}://step-up?scope={}&requester={}",
        encode(req.scope().as_str()),
        encode(req.requester())
    );
    if let Some(to) = req.return_to() {
        link.push_str("&return_to=");
        link.push_str(&encode(to));
    }
    if let Some(code) = req.match_code() {
        link.push_str(&format!("&match={code:02}"));
    }
    if let Some(sig) = req.signature() {
        link.push_str("&sig=");
        link.push_str(&encode(sig));
    }
    if let Some(assertion) = req.assertion() {
        link.push_str("&assertion=");
        link.push_str(&encode(assertion.expose()));
    }
    link
}

fuzz_target!(|data: &[u8]| {
    let Ok(link) = std::str::from_utf8(data) else {
        return;
    };
    let list = allow_list();
    let Ok(req) = StepUpRequest::parse(link, list) else {
        return;
    };
    assert!(link.len() <= MAX_URL_BYTES, "accepted a link of {} bytes", link.len());
    assert!(
        link.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "accepted a raw non-printable byte"
    );
    assert!(req.scope().is_known(), "accepted an unknown scope");
    let requester = req.requester();
    let chars = requester.chars().count();
    assert!((1..=MAX_REQUESTER_CHARS).contains(&chars), "requester of {chars} chars");
    assert!(!requester.chars().any(char::is_control), "control in requester");
    assert_eq!(requester.trim(), requester, "outer spaces in requester");
    if let Some(to) = req.return_to() {
        let url = url::Url::parse(to).expect("return_to is a URL");
        assert!(matches!(url.scheme(), "https" | "http"), "return_to scheme {}", url.scheme());
        let origin = url.origin().ascii_serialization();
        assert!(list.origins().any(|o| o == origin), "return_to origin {origin} not allowed");
    }
    // Display and the serialisation the UI receives never fail.
    let _ = req.to_string();
    let _ = serde_json::to_string(&req).expect("serialise");

    let again = rebuild(&req);
    match StepUpRequest::parse(&again, list) {
        Ok(back) => assert_eq!(back, req, "the rebuilt link {again:?} parses differently"),
        Err(DeepLinkError::TooLong(_)) if again.len() > MAX_URL_BYTES => {}
        Err(e) => panic!("the rebuilt link {again:?} is refused: {e}"),
    }
});
