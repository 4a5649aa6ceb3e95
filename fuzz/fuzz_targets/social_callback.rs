//! The social sign-in's answer on the app's scheme (`SocialCallbackLink`), as any page or
//! program can open `com.stepup.desktop://oauth-callback?…`.
//!
//! Asserts: no panic; what `is_callback` says is a callback is never a step-up request; an
//! accepted callback is at most `MAX_URL_BYTES` of printable ASCII, has at most
//! `MAX_CALLBACK_PARAMS` parameters and exactly one `dynamicOauthState`, keeps its query as
//! written, and its `Debug` shows none of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepup_requests::link::{SocialCallbackLink, MAX_CALLBACK_PARAMS, MAX_URL_BYTES};
use stepup_requests::{ReturnToAllowList, StepUpRequest};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let callback = SocialCallbackLink::is_callback(raw);
    if callback {
        assert!(
            StepUpRequest::parse(raw, &ReturnToAllowList::default()).is_err(),
            "a callback link parsed as a step-up request"
        );
    }
    let Ok(link) = SocialCallbackLink::parse(raw) else {
        return;
    };
    assert!(callback, "parse accepted what is_callback refuses: {raw:?}");
    assert!(raw.len() <= MAX_URL_BYTES, "accepted {} bytes", raw.len());
    assert!(raw.bytes().all(|b| (0x21..=0x7e).contains(&b)), "a raw non-printable byte");
    let query = link.query();
    assert!(raw.ends_with(query), "the query is not kept as written");
    let pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    assert!(pairs.len() <= MAX_CALLBACK_PARAMS, "{} parameters", pairs.len());
    let states = pairs
        .iter()
        .filter(|p| p.split_once('=').map_or(**p, |(k, _)| k) == "dynamicOauthState")
        .count();
    assert_eq!(states, 1, "{states} states");
    let shown = format!("{link:?}");
    assert!(!shown.contains("dynamicOauth"), "Debug shows the answer: {shown}");
});
