//! Every server answer the client parses, as `serde_json::from_slice` reads it (the client's
//! `http::parse_body` on 2xx bodies, `serde_json::from_slice::<ErrorBody>` on error bodies).
//! The first byte picks the model, the rest is the body.
//!
//! Asserts: no panic; what parses serialises, and serialising is stable (value → model →
//! value gives the same value); `choose_method` offers a credential of the check's own list,
//! and one whenever the list is not empty.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use stepup_client::choose_method;
use stepup_protocol::*;

fn stable<T: DeserializeOwned + Serialize>(body: &[u8]) -> Option<T> {
    let model: T = serde_json::from_slice(body).ok()?;
    let first = serde_json::to_value(&model).expect("a parsed answer serialises");
    let again: T = serde_json::from_value(first.clone()).expect("its own serialisation parses");
    let second = serde_json::to_value(&again).expect("serialises again");
    assert_eq!(first, second, "serialisation is not stable");
    Some(model)
}

/// The models, in first-byte order (byte % MODELS.len()); the seeds' file names say which.
const MODELS: &[&str] = &[
    "StepUpCheck",
    "VerifyResponse",
    "ErrorBody",
    "MfaDevicesResponse",
    "MfaDevice",
    "TotpRegistration",
    "PasskeyAuthenticationOptions",
    "PasskeyRegistrationOptions",
    "MfaPasskeyRegistration",
    "EmailVerificationCreateResponse",
    "SmsVerificationCreateResponse",
    "NoncesResponse",
    "NonceResponse",
    "ExportPrivateKeyResponse",
    "ExternalAuthAssertionResponse",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match usize::from(selector) % MODELS.len() {
        0 => {
            if let Some(check) = stable::<StepUpCheck>(body) {
                match choose_method(&check) {
                    Some(c) => assert!(check.credentials.contains(c), "offered a foreign credential"),
                    None => assert!(check.credentials.is_empty(), "offered nothing of a non-empty list"),
                }
            }
        }
        1 => drop(stable::<VerifyResponse>(body)),
        2 => drop(stable::<ErrorBody>(body)),
        3 => drop(stable::<MfaDevicesResponse>(body)),
        4 => drop(stable::<MfaDevice>(body)),
        5 => drop(stable::<TotpRegistration>(body)),
        6 => drop(stable::<PasskeyAuthenticationOptions>(body)),
        7 => drop(stable::<PasskeyRegistrationOptions>(body)),
        8 => drop(stable::<MfaPasskeyRegistration>(body)),
        9 => drop(stable::<EmailVerificationCreateResponse>(body)),
        10 => drop(stable::<SmsVerificationCreateResponse>(body)),
        11 => drop(stable::<NoncesResponse>(body)),
        12 => drop(stable::<NonceResponse>(body)),
        13 => drop(stable::<ExportPrivateKeyResponse>(body)),
        _ => drop(stable::<ExternalAuthAssertionResponse>(body)),
    }
});
