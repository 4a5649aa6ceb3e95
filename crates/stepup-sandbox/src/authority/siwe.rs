//! Sign-In with Ethereum, the sandbox's half: the EIP-4361 message as the SDK lays it out
//! (C:`src/modules/wallets/utils/formatSignInMessage/formatSignInMessage.ts`), read by a
//! strict, bounded parser; EIP-191 `personal_sign` recovery with `k256`; Keccak-256 addresses
//! and their EIP-55 form.
//!
//! The message is hostile input: its size and line count are bounded before anything loops
//! over it, and every line must be where the SDK puts it.

use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};

/// The longest message read (the SDK's is about 600 bytes with its statement).
pub(crate) const MAX_MESSAGE_BYTES: usize = 4096;
/// The most lines a message may have (the SDK's has 11).
pub(crate) const MAX_MESSAGE_LINES: usize = 16;
/// The longest line kept.
const MAX_LINE_BYTES: usize = 1024;

/// The header's fixed end (EVM: `blockchainName` is `Ethereum`).
const HEADER_SUFFIX: &str = " wants you to sign in with your Ethereum account:";

/// The fields of a parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SiweMessage {
    /// `{host}` of the app's URL (with its port, if not the default).
    pub domain: String,
    /// The address line, as written (0x + 40 hex).
    pub address: String,
    /// The statement, if any.
    pub statement: Option<String>,
    /// `URI:`.
    pub uri: String,
    /// `Chain ID:` (the SDK leaves it out only for BTC, SOL, SUI).
    pub chain_id: Option<String>,
    /// `Nonce:`.
    pub nonce: String,
    /// `Issued At:` as unix ms.
    pub issued_at_ms: Option<i64>,
    /// `Request ID:` (the environment id).
    pub request_id: Option<String>,
}

/// Reads a message laid out as the SDK lays it out; anything else is refused with a reason.
pub(crate) fn parse(message: &str) -> Result<SiweMessage, &'static str> {
    if message.len() > MAX_MESSAGE_BYTES {
        return Err("the message is longer than 4096 bytes");
    }
    // Counted before splitting: `split` below never yields more than MAX_MESSAGE_LINES.
    if message.bytes().filter(|&b| b == b'\n').count() >= MAX_MESSAGE_LINES {
        return Err("the message has more than 16 lines");
    }
    if message.contains('\r') {
        return Err("the message has a carriage return");
    }
    let lines: Vec<&str> = message.split('\n').collect();
    if lines.iter().any(|l| l.len() > MAX_LINE_BYTES) {
        return Err("a line of the message is longer than 1024 bytes");
    }
    let mut at = lines.iter().copied();
    let header = at.next().ok_or("the message is empty")?;
    let domain = header
        .strip_suffix(HEADER_SUFFIX)
        .filter(|d| !d.is_empty() && !d.contains(' '))
        .ok_or(
            "the first line is not \"{domain} wants you to sign in with your Ethereum account:\"",
        )?;
    let address = at.next().ok_or("the message has no address line")?;
    if !is_hex_address(address) {
        return Err("the second line is not an 0x address");
    }
    if at.next() != Some("") {
        return Err("the address is not followed by an empty line");
    }
    // With a statement: "", statement, "". Without: "", "" (the SDK's join leaves two).
    let statement = match at.next() {
        Some("") => None,
        Some(s) => {
            if at.next() != Some("") {
                return Err("the statement is not followed by an empty line");
            }
            Some(s.to_owned())
        }
        None => return Err("the message ends after the address"),
    };
    let mut fields = at.peekable();
    let mut field = |name: &str, required: bool| -> Result<Option<String>, &'static str> {
        match fields.peek().and_then(|l| l.strip_prefix(name)) {
            Some(v) => {
                fields.next();
                Ok(Some(v.to_owned()))
            }
            None if required => Err("a required field is missing or out of order"),
            None => Ok(None),
        }
    };
    let uri = field("URI: ", true)?.unwrap_or_default();
    if field("Version: ", true)?.as_deref() != Some("1") {
        return Err("the version is not 1");
    }
    let chain_id = field("Chain ID: ", false)?;
    let nonce = field("Nonce: ", true)?.unwrap_or_default();
    let issued_at = field("Issued At: ", false)?;
    let request_id = field("Request ID: ", false)?;
    if fields.next().is_some() {
        return Err("the message has fields the SDK does not write (or they are out of order)");
    }
    if uri.is_empty() || nonce.is_empty() {
        return Err("the URI or the nonce is empty");
    }
    let issued_at_ms = match issued_at {
        Some(t) => Some(parse_iso_ms(&t).ok_or("Issued At is not an ISO 8601 UTC time")?),
        None => None,
    };
    Ok(SiweMessage {
        domain: domain.to_owned(),
        address: address.to_owned(),
        statement,
        uri,
        chain_id,
        nonce,
        issued_at_ms,
        request_id,
    })
}

pub(crate) use stepup_protocol::eth::is_hex_address;

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` (what `Date.prototype.toISOString` writes) → unix ms.
pub(crate) fn parse_iso_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b.len() > 30 || !s.is_ascii() {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let sep_ok = b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':';
    if !sep_ok || *b.last()? != b'Z' {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let millis = match &s[19..s.len() - 1] {
        "" => 0,
        frac => {
            let digits = frac.strip_prefix('.')?;
            if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|c| c.is_ascii_digit())
            {
                return None;
            }
            let mut padded = digits.to_owned();
            while padded.len() < 3 {
                padded.push('0');
            }
            padded.get(0..3)?.parse::<i64>().ok()?
        }
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = if mo > 2 { mo - 3 } else { mo + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) * 1000) + millis)
}

pub(crate) use stepup_protocol::eth::{address_of, personal_message_hash};

/// The address of a private key.
pub(crate) fn address_of_signing_key(key: &SigningKey) -> String {
    address_of(key.verifying_key())
}

/// The address that signed `message` with `personal_sign`: `signature` is 0x + 65 bytes hex
/// (r ‖ s ‖ v, v 27/28 or 0/1).
pub(crate) fn recover_personal_signer(
    message: &str,
    signature: &str,
) -> Result<String, &'static str> {
    let hex_part = signature
        .strip_prefix("0x")
        .ok_or("the signature is not 0x-hex")?;
    if hex_part.len() != 130 {
        return Err("the signature is not 65 bytes");
    }
    let bytes = hex::decode(hex_part).map_err(|_| "the signature is not hex")?;
    let v = match bytes[64] {
        27 | 28 => bytes[64] - 27,
        0 | 1 => bytes[64],
        _ => return Err("the signature's recovery byte is not 27 or 28"),
    };
    let sig = Signature::from_slice(&bytes[..64]).map_err(|_| "the signature is not r ‖ s")?;
    let recid = RecoveryId::from_byte(v).ok_or("the signature's recovery byte is not valid")?;
    let key = VerifyingKey::recover_from_prehash(&personal_message_hash(message), &sig, recid)
        .map_err(|_| "no key recovers from this signature")?;
    Ok(address_of(&key))
}

/// Signs `message` with `personal_sign` (the demo's and the tests' wallet): 0x + r ‖ s ‖ v.
#[cfg(test)]
pub(crate) fn personal_sign(key: &SigningKey, message: &str) -> String {
    let (sig, recid) = key.sign_prehash_recoverable(&personal_message_hash(message));
    let mut bytes = sig.to_bytes().to_vec();
    bytes.push(27 + recid.to_byte());
    format!("0x{}", hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV: &str = "4f8a5d0e-9c1b-4c3e-8f2a-5b6d7e8f9a0b";

    fn sdk_message(address: &str, statement: Option<&str>) -> String {
        let prefix = format!("app.stepup.example{HEADER_SUFFIX}\n{address}");
        let with_statement = match statement {
            Some(s) => format!("{prefix}\n\n{s}\n"),
            None => format!("{prefix}\n\n"),
        };
        format!("{with_statement}\nURI: https://app.stepup.example/\nVersion: 1\nChain ID: 1\nNonce: abc123\nIssued At: 2024-05-01T12:00:00.000Z\nRequest ID: {ENV}")
    }

    #[test]
    fn the_sdks_layout_parses_with_and_without_a_statement() {
        let addr = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        let m = parse(&sdk_message(addr, Some("Welcome to Stepup Sandbox."))).unwrap();
        assert_eq!(m.domain, "app.stepup.example");
        assert_eq!(m.address, addr);
        assert_eq!(m.statement.as_deref(), Some("Welcome to Stepup Sandbox."));
        assert_eq!(m.uri, "https://app.stepup.example/");
        assert_eq!(m.chain_id.as_deref(), Some("1"));
        assert_eq!(m.nonce, "abc123");
        assert_eq!(m.issued_at_ms, Some(1_714_564_800_000));
        assert_eq!(m.request_id.as_deref(), Some(ENV));
        let m = parse(&sdk_message(addr, None)).unwrap();
        assert_eq!(m.statement, None);
    }

    #[test]
    fn hostile_messages_are_refused_by_their_bounds_before_any_loop() {
        let addr = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        let ok = sdk_message(addr, Some("s"));
        let too_long = format!("{ok}{}", "x".repeat(MAX_MESSAGE_BYTES));
        assert_eq!(
            parse(&too_long),
            Err("the message is longer than 4096 bytes")
        );
        let many_lines = "\n".repeat(MAX_MESSAGE_LINES);
        assert_eq!(
            parse(&many_lines),
            Err("the message has more than 16 lines")
        );
        // 15 newlines (16 lines) is the most allowed: it gets past the bound, then fails on form.
        assert_ne!(
            parse(&"\n".repeat(MAX_MESSAGE_LINES - 1)),
            Err("the message has more than 16 lines")
        );
        let long_line = ok.replace("Nonce: abc123", &format!("Nonce: {}", "n".repeat(1100)));
        assert_eq!(
            parse(&long_line),
            Err("a line of the message is longer than 1024 bytes")
        );
        assert!(parse(&ok.replace('\n', "\r\n")).is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn misplaced_missing_or_extra_fields_are_refused() {
        let addr = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        let ok = sdk_message(addr, Some("s"));
        for bad in [
            ok.replace("Version: 1", "Version: 2"),
            ok.replace("URI: https://app.stepup.example/\n", ""),
            ok.replace("Nonce: abc123\n", ""),
            format!("{ok}\nExpiration Time: 2030-01-01T00:00:00Z"),
            ok.replace("Ethereum", "Solana"),
            ok.replace(addr, "0x123"),
            ok.replace(addr, &format!("{addr}\nsmuggled")),
            ok.replace("2024-05-01T12:00:00.000Z", "yesterday"),
            ok.replace("2024-05-01T12:00:00.000Z", "2024-13-01T12:00:00.000Z"),
            ok.replace("Chain ID: 1\nNonce: abc123", "Nonce: abc123\nChain ID: 1"),
        ] {
            assert!(parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn iso_times_parse_as_javascript_writes_them() {
        assert_eq!(parse_iso_ms("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(parse_iso_ms("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(
            parse_iso_ms("2000-02-29T23:59:59.999Z"),
            Some(951_868_799_999)
        );
        for bad in [
            "2024-05-01 12:00:00Z",
            "2024-05-01T12:00:00+01:00",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T25:00:00Z",
            "+2024-05-01T12:00:00Z",
        ] {
            assert_eq!(parse_iso_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn eip55_matches_the_eips_test_vectors() {
        for addr in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            assert_eq!(
                stepup_protocol::eth::eip55(&addr.to_ascii_lowercase()).as_deref(),
                Some(addr)
            );
        }
    }

    #[test]
    fn a_known_key_has_its_known_address_and_its_signatures_recover_to_it() {
        // The private key 1's address, a well-known value.
        let mut one = [0u8; 32];
        one[31] = 1;
        let key = SigningKey::from_slice(&one).unwrap();
        assert_eq!(
            address_of_signing_key(&key),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
        );
        let sig = personal_sign(&key, "hello");
        assert_eq!(
            recover_personal_signer("hello", &sig).unwrap(),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
        );
        assert_ne!(
            recover_personal_signer("hellO", &sig).unwrap(),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
        );
        for bad in [
            "",
            "0x",
            &sig[2..],
            &sig[..100],
            &format!("{}1d", &sig[..130]),
        ] {
            assert!(recover_personal_signer("hello", bad).is_err(), "{bad}");
        }
    }
}
