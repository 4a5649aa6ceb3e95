//! Ethereum's small primitives, shared by the client (building and checking a SIWE signature)
//! and the sandbox (verifying one): hex addresses, their EIP-55 checksum form, the EIP-191
//! `personal_sign` hash, and the address of a secp256k1 key (Keccak-256 of the point).

use k256::ecdsa::VerifyingKey;
use sha3::{Digest, Keccak256};

/// `0x` and 40 hex digits, any case.
pub fn is_hex_address(s: &str) -> bool {
    s.len() == 42 && s.starts_with("0x") && s.bytes().skip(2).all(|b| b.is_ascii_hexdigit())
}

/// EIP-55 checksum form of an `0x` address (any case); `None` if it is not one.
pub fn eip55(address: &str) -> Option<String> {
    if !is_hex_address(address) {
        return None;
    }
    let lower = address[2..].to_ascii_lowercase();
    let digest = Keccak256::digest(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (digest[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0x0f;
        out.push(if c.is_ascii_alphabetic() && nibble >= 8 {
            c.to_ascii_uppercase()
        } else {
            c
        });
    }
    Some(out)
}

/// EIP-191 version 0x45 (`personal_sign`): Keccak-256 of
/// `"\x19Ethereum Signed Message:\n" ‖ len ‖ message`.
pub fn personal_message_hash(message: &str) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(b"\x19Ethereum Signed Message:\n");
    h.update(message.len().to_string().as_bytes());
    h.update(message.as_bytes());
    h.finalize().into()
}

/// The EIP-55 address of a key: the last 20 bytes of Keccak-256 of the uncompressed point.
pub fn address_of(key: &VerifyingKey) -> String {
    let point = key.to_sec1_point(false);
    let digest = Keccak256::digest(&point.as_bytes()[1..]);
    let mut hex = String::with_capacity(42);
    hex.push_str("0x");
    for b in &digest[12..] {
        hex.push_str(&format!("{b:02x}"));
    }
    eip55(&hex).unwrap_or(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip55_matches_the_eips_vectors_and_refuses_what_is_not_an_address() {
        for a in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        ] {
            assert_eq!(eip55(&a.to_ascii_lowercase()).as_deref(), Some(a));
        }
        for bad in ["", "0x", "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xZZ"] {
            assert_eq!(eip55(bad), None);
        }
    }

    #[test]
    fn private_key_one_has_its_known_address() {
        let key = k256::ecdsa::SigningKey::from_slice(&{
            let mut k = [0u8; 32];
            k[31] = 1;
            k
        })
        .expect("key");
        assert_eq!(
            address_of(key.verifying_key()),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
        );
    }
}
