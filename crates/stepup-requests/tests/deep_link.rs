//! The deep-link parser against hostile links: every rule of `stepup_requests::link`, from
//! the outside (the parser is the only way to make a request from a link).

use stepup_protocol::TokenScope;
use stepup_requests::link::*;

fn allow() -> ReturnToAllowList {
    ReturnToAllowList::new(["https://app.example.com", "http://127.0.0.1:8080"])
}

fn parse(link: &str) -> Result<StepUpRequest, DeepLinkError> {
    StepUpRequest::parse(link, &allow())
}

#[test]
fn well_formed_link_becomes_a_request() {
    let r =
        parse("com.stepup.desktop://step-up?scope=wallet:export&requester=Acme%20Wallet").unwrap();
    assert_eq!(*r.scope(), TokenScope::WalletExport);
    assert_eq!(r.requester(), "Acme Wallet");
    assert_eq!(r.return_to(), None);
}

#[test]
fn parameter_order_trailing_slash_plus_and_scheme_case_are_tolerated() {
    let r =
        parse("COM.Stepup.Desktop://step-up/?requester=Acme+Wallet&scope=wallet%3Aexport").unwrap();
    assert_eq!(*r.scope(), TokenScope::WalletExport);
    assert_eq!(r.requester(), "Acme Wallet");
}

#[test]
fn unicode_requester_is_accepted_when_printable() {
    let r = parse(
        "com.stepup.desktop://step-up?scope=wallet:sign&requester=Caf%C3%A9%20%E6%9D%B1%E4%BA%AC",
    )
    .unwrap();
    assert_eq!(r.requester(), "Café 東京");
}

#[test]
fn return_to_on_the_allow_list_is_kept() {
    let r = parse(
        "com.stepup.desktop://step-up?scope=wallet:export&requester=A&return_to=https%3A%2F%2Fapp.example.com%2Fdone%3Fx%3D1",
    )
    .unwrap();
    assert_eq!(r.return_to(), Some("https://app.example.com/done?x=1"));
    let r = parse("com.stepup.desktop://step-up?scope=wallet:export&requester=A&return_to=http://127.0.0.1:8080/back").unwrap();
    assert_eq!(r.return_to(), Some("http://127.0.0.1:8080/back"));
    let r = parse("com.stepup.desktop://step-up?scope=wallet:export&requester=A&return_to=https://app.example.com/q%3Fname%3Da%2520b").unwrap();
    assert_eq!(
        r.return_to(),
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
fn every_known_scope_is_accepted() {
    for scope in TokenScope::KNOWN {
        let link = format!("com.stepup.desktop://step-up?scope={scope}&requester=A");
        let request = parse(&link).unwrap_or_else(|e| panic!("{scope}: {e}"));
        assert_eq!(request.scope(), scope);
    }
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
    let exactly = String::from("com.stepup.desktop://step-up?scope=wallet:export&requester=A&pad=");
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
        let link = format!("com.stepup.desktop://step-up?scope=wallet:export&requester={value}");
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
        let link = format!("com.stepup.desktop://step-up?scope=wallet:export&requester={value}");
        assert!(
            matches!(parse(&link), Err(DeepLinkError::BadRequester(_))),
            "{value}"
        );
    }
    for value in ["+A", "A+", "A++B", "A%C2%A0B", "%E3%80%80A"] {
        let link = format!("com.stepup.desktop://step-up?scope=wallet:export&requester={value}");
        assert!(
            matches!(parse(&link), Err(DeepLinkError::BadRequester(_))),
            "{value}"
        );
    }
}

#[test]
fn html_in_requester_is_kept_as_text() {
    // Printable, so accepted; the UI renders it with textContent, never as markup.
    let r =
        parse("com.stepup.desktop://step-up?scope=wallet:export&requester=%3Cb%3EAcme%3C%2Fb%3E")
            .unwrap();
    assert_eq!(r.requester(), "<b>Acme</b>");
}

#[test]
fn error_messages_never_echo_control_characters() {
    let err =
        parse("com.stepup.desktop://step-up?scope=wallet%0A%1B:export&requester=A").unwrap_err();
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

/// A link whose requester is `A<c>B`, `c` percent-encoded.
fn link_with(c: char) -> String {
    let mut encoded = String::new();
    for b in c.to_string().bytes() {
        encoded.push_str(&format!("%{b:02X}"));
    }
    format!("com.stepup.desktop://step-up?scope=wallet:export&requester=A{encoded}B")
}

#[test]
fn the_whole_unicode_table_walked_invisible_and_unassigned_code_points_are_refused() {
    use unicode_general_category::{get_general_category, GeneralCategory as G};
    let (mut refused, mut accepted) = (0u32, 0u32);
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        let category = get_general_category(c);
        let must_refuse = matches!(
            category,
            G::Control
                | G::Format
                | G::Surrogate
                | G::PrivateUse
                | G::Unassigned
                | G::LineSeparator
                | G::ParagraphSeparator
        ) || matches!(c, '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' | '\u{180B}'..='\u{180F}')
            || matches!(
                c,
                '\u{034F}'
                    | '\u{115F}'
                    | '\u{1160}'
                    | '\u{3164}'
                    | '\u{FFA0}'
                    | '\u{17B4}'
                    | '\u{17B5}'
                    | '\u{2800}'
                    | '\u{1D159}'
                    | '\u{FFFC}'
            )
            || (category == G::SpaceSeparator && c != ' ');
        assert_eq!(
            is_invisible_or_reordering(c) || (category == G::SpaceSeparator && c != ' '),
            must_refuse,
            "U+{:04X} ({category:?})",
            c as u32
        );
        // The parser itself, on every code point except the bulk of the unassigned and
        // private-use planes (sampled: they are one range each in the table).
        let bulk =
            matches!(category, G::Unassigned | G::PrivateUse) && !(c as u32).is_multiple_of(251);
        if bulk || c == '%' || c == '+' || c == ' ' {
            continue;
        }
        let result = StepUpRequest::parse(&link_with(c), &ReturnToAllowList::default());
        if must_refuse {
            assert!(
                matches!(result, Err(DeepLinkError::BadRequester(_))),
                "U+{:04X} ({category:?}) got through: {result:?}",
                c as u32
            );
            refused += 1;
        } else if c.is_ascii_control() || c.is_whitespace() {
            assert!(result.is_err(), "U+{:04X}", c as u32);
        } else {
            assert!(
                result.is_ok(),
                "U+{:04X} ({category:?}) refused: {result:?}",
                c as u32
            );
            accepted += 1;
        }
    }
    assert!(
        refused > 4_000 && accepted > 100_000,
        "{refused} refused, {accepted} accepted"
    );
}

#[test]
fn the_issues_examples_are_refused() {
    // Format (word joiner, tag), variation selector, Braille blank, private use, Hangul filler.
    for c in [
        '\u{2063}',
        '\u{E0041}',
        '\u{FE0F}',
        '\u{E0101}',
        '\u{2800}',
        '\u{E000}',
        '\u{F8FF}',
        '\u{3164}',
        '\u{1D173}',
        '\u{13430}',
        '\u{2029}',
    ] {
        assert!(
            matches!(
                StepUpRequest::parse(&link_with(c), &ReturnToAllowList::default()),
                Err(DeepLinkError::BadRequester(_))
            ),
            "U+{:04X}",
            c as u32
        );
    }
    // Real names keep working: accents (precomposed and combining), CJK, emoji.
    for name in [
        "Caf%C3%A9",
        "Cafe%CC%81",
        "%E6%9D%B1%E4%BA%AC",
        "Acme%20%F0%9F%A6%8A",
    ] {
        let link = format!("com.stepup.desktop://step-up?scope=wallet:export&requester={name}");
        assert!(
            StepUpRequest::parse(&link, &ReturnToAllowList::default()).is_ok(),
            "{name}"
        );
    }
}

#[test]
fn a_server_confirmation_is_kept_unchecked_and_secret_and_a_malformed_one_refused() {
    let base = "com.stepup.desktop://step-up?scope=wallet:sign&requester=Acme";
    let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl";
    let r = parse(&format!("{base}&assertion={jwt}")).unwrap();
    assert_eq!(r.assertion().map(|a| a.expose()), Some(jwt));
    assert!(
        !format!("{r:?}").contains("c2lnbmF0dXJl"),
        "Debug redacts it"
    );
    assert!(
        !serde_json::to_string(&r).unwrap().contains("c2lnbmF0dXJl"),
        "never sent to the UI"
    );
    assert_eq!(parse(base).unwrap().assertion(), None);
    for bad in [
        "a.b",
        "a.b.c.d",
        ".b.c",
        "a.b%20.c",
        "a.b.c%00",
        "a.b<script>.c",
    ] {
        assert_eq!(
            parse(&format!("{base}&assertion={bad}")).err(),
            Some(DeepLinkError::MalformedAssertion),
            "{bad}"
        );
    }
    assert_eq!(
        parse(&format!("{base}&assertion={jwt}&assertion={jwt}")).err(),
        Some(DeepLinkError::DuplicateParameter("assertion"))
    );
}
