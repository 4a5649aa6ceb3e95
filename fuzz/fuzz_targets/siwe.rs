//! The sandbox's SIWE (EIP-4361) message parser and EIP-191 signer recovery, on hostile
//! `wallets/verify` bodies.
//!
//! Asserts: no panic; an accepted message is at most 4096 bytes and 16 lines, and its fields
//! fit in it; a recovered signer is an address (0x + 40 hex). The input is split at the first
//! NUL: message before, signature after.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepup_sandbox::fuzzing::{parse_siwe, recover_siwe_signer};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (message, signature) = text.split_once('\0').unwrap_or((text, ""));
    if let Ok(fields) = parse_siwe(message) {
        assert!(message.len() <= 4096, "an over-long message was accepted");
        assert!(message.lines().count() <= 16, "too many lines were accepted");
        assert!(fields <= message.len(), "fields longer than the message");
    }
    if let Ok(address) = recover_siwe_signer(message, signature) {
        assert_eq!(address.len(), 42, "{address}");
        assert!(address.starts_with("0x"));
        assert!(address[2..].bytes().all(|b| b.is_ascii_hexdigit()));
    }
});
