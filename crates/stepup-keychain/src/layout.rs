//! How the vault's records are laid out as keychain entries (pure: no keychain calls).
//!
//! # Records
//! Every entry has the vault's service name; the entry's *user* names the record:
//!
//! | user | holds |
//! |---|---|
//! | `index` | JSON `{"version":1,"tokens":["<scope-set key>", ...]}` |
//! | `token:<scope-set key>` | one [`ElevatedToken`](stepup_client::vault::ElevatedToken), JSON |
//! | `session` | the [`SessionRecord`](stepup_client::vault::SessionRecord), JSON |
//! | `device-key` | the device key (P-256 scalar, hex) |
//! | `device-passkey` | the device passkey's soft-token state, base64url CBOR (service `<app>/<env>/passkey`) |
//!
//! # Parts
//! No entry may exceed [`MAX_ENTRY_BYTES`] (the Windows Credential Manager caps a credential at
//! 2,560 bytes), so a record is cut into *parts*. The record's own entry (the *head*) holds a
//! header line and the first part; the other parts live in entries named
//! `<record>~<generation>.<i>`. The head is written last and names its generation, so a crash
//! in the middle of a write leaves the previous head (and its parts) intact; the parts of a
//! generation no head names are orphans that [`clear`](crate::KeychainVault) sweeps away.

use stepup_client::vault::VaultError;

/// The largest secret one entry holds, in bytes (Windows: `CRED_MAX_CREDENTIAL_BLOB_SIZE` is
/// 2,560; we keep a margin).
pub const MAX_ENTRY_BYTES: usize = 2048;

/// The head's header line starts with this tag; a head without it is damaged.
const HEADER_TAG: &str = "stepup1";

/// The most parts a record may have, the head's included: 32 entries, 64 KiB (the largest
/// record, the passkey state, is about 3 KB). A head that claims more is damaged: any process
/// of the user's session can write an entry, so the count is bounded before anything is
/// allocated or looped over.
pub const MAX_PARTS: usize = 32;

/// The largest record [`encode`] accepts, in bytes.
pub const MAX_RECORD_BYTES: usize = MAX_PARTS * MAX_ENTRY_BYTES - MAX_HEADER_BYTES;

/// The header line is at most this long: tag, 8 hex digits, a part count, separators.
const MAX_HEADER_BYTES: usize = 32;

/// The record listing the elevated tokens' scope-set keys.
pub const INDEX: &str = "index";
/// The session record.
pub const SESSION: &str = "session";
/// The device key record.
pub const DEVICE_KEY: &str = "device-key";
/// The device passkey record (in the passkey store's own service).
pub const DEVICE_PASSKEY: &str = "device-passkey";

/// The prefix of a token record's name.
pub const TOKEN_PREFIX: &str = "token:";

/// The record holding the token stored under `scope_key`.
pub fn token_record(scope_key: &str) -> String {
    format!("{TOKEN_PREFIX}{scope_key}")
}

/// The entry holding part `index` (1-based; part 0 is in the head) of generation `generation`.
pub fn part_entry(record: &str, generation: u32, index: usize) -> String {
    format!("{record}~{generation:08x}.{index}")
}

/// What a head says about its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Which generation of parts the head belongs to.
    pub generation: u32,
    /// How many parts the record has, the head's own included (at least 1).
    pub parts: usize,
}

/// A record cut into entries: the head's bytes and the other parts' bytes, in order.
#[derive(Debug)]
pub struct Encoded {
    /// The head: header line plus part 0.
    pub head: String,
    /// Parts 1.. (may be empty).
    pub tail: Vec<String>,
}

/// Cuts `value` into parts that each fit an entry, at UTF-8 character boundaries (KWallet only
/// stores UTF-8 secrets, so no part may split a character). A value of more than
/// [`MAX_RECORD_BYTES`] is refused: it could not be read back.
pub fn encode(value: &str, generation: u32) -> Result<Encoded, VaultError> {
    if value.len() > MAX_RECORD_BYTES {
        return Err(VaultError::Other(format!(
            "a keychain record of {} bytes is larger than the {MAX_RECORD_BYTES} bytes the vault stores",
            value.len()
        )));
    }
    let first_cap = MAX_ENTRY_BYTES - MAX_HEADER_BYTES;
    let mut pieces = Vec::new();
    let mut rest = value;
    let mut cap = first_cap;
    loop {
        if rest.len() <= cap {
            pieces.push(rest);
            break;
        }
        let mut cut = cap;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, after) = rest.split_at(cut);
        pieces.push(piece);
        rest = after;
        cap = MAX_ENTRY_BYTES;
    }
    // Cuts at character boundaries can waste up to 3 bytes a part: a record just under the
    // byte limit may still need one part too many, which `decode_head` would refuse.
    if pieces.len() > MAX_PARTS {
        return Err(VaultError::Other(format!(
            "a keychain record that needs {} entries is more than the {MAX_PARTS} the vault reads back",
            pieces.len()
        )));
    }
    let mut pieces = pieces.into_iter();
    let first = pieces.next().unwrap_or_default();
    let tail: Vec<String> = pieces.map(str::to_owned).collect();
    let head = format!("{HEADER_TAG} {generation:08x} {}\n{first}", tail.len() + 1);
    Ok(Encoded { head, tail })
}

/// Splits a head into its header and part 0. Refuses a head longer than an entry, a header line
/// longer than [`MAX_HEADER_BYTES`], and a part count of 0 or over [`MAX_PARTS`].
pub fn decode_head<'a>(record: &str, head: &'a str) -> Result<(Header, &'a str), VaultError> {
    let damaged = || VaultError::Corrupt(format!("entry `{record}` has no valid header"));
    if head.len() > MAX_ENTRY_BYTES {
        return Err(damaged());
    }
    let (line, first) = head.split_once('\n').ok_or_else(damaged)?;
    if line.len() > MAX_HEADER_BYTES {
        return Err(damaged());
    }
    let mut fields = line.split(' ');
    if fields.next() != Some(HEADER_TAG) {
        return Err(damaged());
    }
    let generation = fields
        .next()
        .and_then(|g| u32::from_str_radix(g, 16).ok())
        .ok_or_else(damaged)?;
    let parts = fields
        .next()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| (1..=MAX_PARTS).contains(n))
        .ok_or_else(damaged)?;
    if fields.next().is_some() {
        return Err(damaged());
    }
    Ok((Header { generation, parts }, first))
}

/// A generation different from `previous`, so a new write never reuses the parts it replaces.
pub fn next_generation(previous: Option<u32>) -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut generation =
        nanos ^ std::process::id().rotate_left(16) ^ COUNTER.fetch_add(1, Ordering::Relaxed);
    if Some(generation) == previous {
        generation = generation.wrapping_add(1);
    }
    generation
}

/// The index record: which scope-set keys have a token entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Index {
    /// Format version; 1.
    pub version: u32,
    /// Scope-set keys, sorted, no duplicates.
    pub tokens: Vec<String>,
}

impl Index {
    /// An index listing no token.
    pub fn empty() -> Self {
        Self {
            version: 1,
            tokens: Vec::new(),
        }
    }
    /// Adds `key`; false when it was already listed.
    pub fn insert(&mut self, key: &str) -> bool {
        match self.tokens.binary_search_by(|k| k.as_str().cmp(key)) {
            Ok(_) => false,
            Err(at) => {
                self.tokens.insert(at, key.to_owned());
                true
            }
        }
    }
    /// Removes `key`; false when it was not listed.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.tokens.len();
        self.tokens.retain(|k| k != key);
        self.tokens.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(value: &str, generation: u32) -> Encoded {
        super::encode(value, generation).unwrap()
    }

    fn reassemble(encoded: &Encoded) -> String {
        let (header, first) = decode_head("r", &encoded.head).unwrap();
        assert_eq!(header.parts, encoded.tail.len() + 1);
        let mut out = first.to_owned();
        for part in &encoded.tail {
            out.push_str(part);
        }
        out
    }

    #[test]
    fn small_value_is_one_entry() {
        let e = encode("abc", 7);
        assert!(e.tail.is_empty());
        assert_eq!(
            decode_head("r", &e.head).unwrap(),
            (
                Header {
                    generation: 7,
                    parts: 1
                },
                "abc"
            )
        );
    }

    #[test]
    fn large_value_round_trips_and_every_part_fits() {
        // Multi-byte characters everywhere so cuts land inside characters unless handled.
        let value: String = "é€😀x".repeat(2_000); // 20 KB: 10 parts
        let e = encode(&value, u32::MAX);
        assert!(e.head.len() <= MAX_ENTRY_BYTES);
        assert!(e
            .tail
            .iter()
            .all(|p| p.len() <= MAX_ENTRY_BYTES && !p.is_empty()));
        assert_eq!(reassemble(&e), value);
    }

    #[test]
    fn value_exactly_at_the_limit_is_one_entry() {
        let value = "a".repeat(MAX_ENTRY_BYTES - MAX_HEADER_BYTES);
        let e = encode(&value, 1);
        assert!(e.tail.is_empty());
        assert!(e.head.len() <= MAX_ENTRY_BYTES);
    }

    #[test]
    fn damaged_heads_are_corrupt() {
        for head in [
            "",
            "no newline",
            "other 1 1\nx",
            "stepup1 zz 1\nx",
            "stepup1 1 0\nx",
            "stepup1 1 1 1\nx",
            // Part counts that would make a reader allocate petabytes or loop for ever.
            "stepup1 1 100000000000000\nx",
            "stepup1 1 1000000000000\nx",
            "stepup1 1 18446744073709551615\nx",
            "stepup1 1 33\nx",
        ] {
            assert!(
                matches!(decode_head("r", head), Err(VaultError::Corrupt(_))),
                "{head:?}"
            );
        }
    }

    #[test]
    fn part_counts_are_bounded_and_the_largest_record_round_trips() {
        assert!(decode_head("r", &format!("stepup1 1 {MAX_PARTS}\nx")).is_ok());
        let head_too_long = format!("stepup1 1 1\n{}", "a".repeat(MAX_ENTRY_BYTES));
        assert!(matches!(
            decode_head("r", &head_too_long),
            Err(VaultError::Corrupt(_))
        ));
        let largest = "a".repeat(MAX_RECORD_BYTES);
        let e = encode(&largest, 9);
        assert_eq!(e.tail.len() + 1, MAX_PARTS);
        assert_eq!(reassemble(&e), largest);
        assert!(super::encode(&"a".repeat(MAX_RECORD_BYTES + 1), 9).is_err());
    }

    #[test]
    fn a_record_under_the_byte_limit_that_needs_too_many_parts_is_refused() {
        // Found by the keychain_entry fuzz target: 65,472 bytes of 3-byte characters cut at
        // character boundaries need 33 parts, and the 33-part head would read back as damaged.
        let value = "€".repeat(MAX_RECORD_BYTES / 3);
        assert!(value.len() <= MAX_RECORD_BYTES);
        match super::encode(&value, 1) {
            Err(_) => {}
            Ok(e) => assert!(
                decode_head("r", &e.head).is_ok(),
                "wrote a head it cannot read"
            ),
        }
    }

    #[test]
    fn next_generation_never_repeats_the_previous_one() {
        for _ in 0..1_000 {
            let g = next_generation(None);
            assert_ne!(next_generation(Some(g)), g);
        }
    }

    #[test]
    fn index_stays_sorted_without_duplicates() {
        let mut i = Index::empty();
        assert!(i.insert("b"));
        assert!(i.insert("a"));
        assert!(!i.insert("b"));
        assert_eq!(i.tokens, ["a", "b"]);
        assert!(i.remove("a"));
        assert!(!i.remove("a"));
    }
}
