//! The journal's bytes: a header naming its generation, then one framed record per save.
//!
//! ```text
//! header: "STEPUPJ\x01" ‖ generation (u64 LE) ‖ SHA-256(the 16 bytes before)[..8]
//! record: length (u32 LE) ‖ SHA-256(generation LE ‖ length LE ‖ payload)[..8] ‖ payload
//! ```
//!
//! A payload is the JSON array of the [`Change`]s of one save, so a save is applied whole or
//! not at all. Each record is appended and fsync'd before the response that reports its
//! changes, so only the last record can be cut short by a crash: a damaged record that
//! reaches the end of the file (or is followed by zeros only) is such a torn append and is
//! dropped; a damaged record followed by anything else is damage, and loading stops with an
//! error instead of forgetting what came after it.

use sha2::{Digest as _, Sha256};

use super::changes::Change;

/// The first bytes of a journal.
const MAGIC: &[u8; 8] = b"STEPUPJ\x01";
/// Magic, generation, checksum.
pub(super) const HEADER_LEN: usize = 8 + 8 + 8;
/// Length, checksum.
const FRAME_LEN: usize = 4 + 8;
/// The longest payload written or read; a longer save is written as a compaction instead.
pub(super) const MAX_RECORD_BYTES: usize = 16 << 20;
/// The most records a journal may hold when read (compaction keeps it far below).
pub(super) const MAX_RECORDS: usize = 100_000;

/// A journal read back.
#[derive(Debug)]
pub(super) struct Parsed {
    /// The generation in the header: the snapshot it extends.
    pub generation: u64,
    /// Each record's changes, in order.
    pub records: Vec<Vec<Change>>,
    /// Bytes of the valid prefix (header and whole records).
    pub valid_len: usize,
    /// Bytes dropped after it: a torn last append (0 when the file ended cleanly).
    pub torn_bytes: usize,
}

fn checksum8(parts: &[&[u8]]) -> [u8; 8] {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part);
    }
    let digest = hash.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

/// The header of a journal of `generation`.
pub(super) fn header(generation: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&generation.to_le_bytes());
    let sum = checksum8(&[&out]);
    out.extend_from_slice(&sum);
    out
}

/// One record holding `payload`, for a journal of `generation`. `None` when it is too long.
pub(super) fn frame(generation: u64, payload: &[u8]) -> Option<Vec<u8>> {
    if payload.is_empty() || payload.len() > MAX_RECORD_BYTES {
        return None;
    }
    let len = u32::try_from(payload.len()).ok()?.to_le_bytes();
    let sum = checksum8(&[&generation.to_le_bytes(), &len, payload]);
    let mut out = Vec::with_capacity(FRAME_LEN + payload.len());
    out.extend_from_slice(&len);
    out.extend_from_slice(&sum);
    out.extend_from_slice(payload);
    Some(out)
}

/// Reads a journal. `Err` names the damage and its offset.
pub(super) fn parse(bytes: &[u8]) -> Result<Parsed, String> {
    let head = bytes.get(..HEADER_LEN).ok_or_else(|| {
        format!(
            "the journal is {} bytes, shorter than its header",
            bytes.len()
        )
    })?;
    if &head[..8] != MAGIC {
        return Err("the journal does not start with its magic bytes".into());
    }
    if head[16..] != checksum8(&[&head[..16]]) {
        return Err("the journal's header is damaged".into());
    }
    let mut generation = [0u8; 8];
    generation.copy_from_slice(&head[8..16]);
    let generation = u64::from_le_bytes(generation);

    let mut records = Vec::new();
    let mut at = HEADER_LEN;
    while at < bytes.len() {
        let rest = &bytes[at..];
        match next_record(generation, rest) {
            Next::Record { changes, len } => {
                if records.len() >= MAX_RECORDS {
                    return Err(format!("the journal holds more than {MAX_RECORDS} records"));
                }
                records.push(changes);
                at += len;
            }
            Next::Torn => {
                return Ok(Parsed {
                    generation,
                    records,
                    valid_len: at,
                    torn_bytes: rest.len(),
                })
            }
            Next::Damaged(why) => return Err(format!("the record at byte {at} is damaged: {why}")),
        }
    }
    Ok(Parsed {
        generation,
        records,
        valid_len: at,
        torn_bytes: 0,
    })
}

/// What starts at some offset of the journal.
enum Next {
    /// A whole record of `len` bytes.
    Record { changes: Vec<Change>, len: usize },
    /// The rest is a torn last append.
    Torn,
    /// The rest is damaged.
    Damaged(String),
}

/// Reads the record at the start of `rest`. Only the last append can be torn, and a torn
/// append is a prefix of what was written, then maybe zeros (the file grew but the data did
/// not reach the disk). So the rest is a torn record only when it is zeros from some point
/// on, and before that a frame whose payload runs to the end of the file or is cut by those
/// zeros; a payload, being compact JSON, never holds a byte below 0x20, and the next record's
/// length does (its high byte is 0): a bad length in the middle is not taken for a tear.
fn next_record(generation: u64, rest: &[u8]) -> Next {
    let written = rest.len() - rest.iter().rev().take_while(|b| **b == 0).count();
    if rest.len() < FRAME_LEN || written == 0 {
        // A cut frame header (nothing can follow it), or zeros only.
        return Next::Torn;
    }
    let mut len_bytes = [0u8; 4];
    len_bytes.copy_from_slice(&rest[..4]);
    let len = u32::from_le_bytes(len_bytes) as usize;
    if len == 0 || len > MAX_RECORD_BYTES {
        return Next::Damaged(format!("impossible length {len}"));
    }
    let end = FRAME_LEN + len;
    let sum_ok = |payload: &[u8]| {
        rest[4..FRAME_LEN] == checksum8(&[&generation.to_le_bytes(), &len_bytes, payload])
    };
    match rest.get(FRAME_LEN..end) {
        Some(payload) if sum_ok(payload) => match serde_json::from_slice(payload) {
            Ok(changes) => Next::Record { changes, len: end },
            Err(e) => Next::Damaged(format!("it does not parse: {e}")),
        },
        // The last record: every written byte of it is payload-like.
        _ if written <= end
            && rest[FRAME_LEN.min(written)..written]
                .iter()
                .all(|b| *b >= 0x20) =>
        {
            Next::Torn
        }
        _ => Next::Damaged("checksum mismatch".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(generation: u64, jti: &str) -> Vec<u8> {
        let changes = vec![Change::PutTokenJti {
            jti: jti.into(),
            exp: 5,
        }];
        frame(generation, &serde_json::to_vec(&changes).unwrap()).unwrap()
    }

    fn journal(generation: u64, jtis: &[&str]) -> Vec<u8> {
        let mut out = header(generation);
        for jti in jtis {
            out.extend(record(generation, jti));
        }
        out
    }

    fn jtis(parsed: &Parsed) -> Vec<String> {
        parsed
            .records
            .iter()
            .flatten()
            .map(|c| match c {
                Change::PutTokenJti { jti, .. } => jti.clone(),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn records_read_back_in_order() {
        let bytes = journal(7, &["a", "b", "c"]);
        let parsed = parse(&bytes).unwrap();
        assert_eq!(parsed.generation, 7);
        assert_eq!(jtis(&parsed), ["a", "b", "c"]);
        assert_eq!(parsed.valid_len, bytes.len());
        assert_eq!(parsed.torn_bytes, 0);
    }

    #[test]
    fn every_cut_inside_the_last_record_drops_only_that_record() {
        let two = journal(1, &["a", "b"]);
        let three = journal(1, &["a", "b", "c"]);
        for cut in two.len()..three.len() {
            let parsed = parse(&three[..cut]).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            assert_eq!(jtis(&parsed), ["a", "b"], "cut at {cut}");
            assert_eq!(parsed.valid_len, two.len());
            assert_eq!(parsed.torn_bytes, cut - two.len());
        }
    }

    #[test]
    fn a_last_record_that_never_reached_the_disk_is_dropped() {
        let two = journal(1, &["a", "b"]);
        let mut three = journal(1, &["a", "b", "c"]);
        let len = three.len();
        // The file grew but the last record's bytes never reached the disk.
        three[two.len()..].fill(0);
        assert_eq!(jtis(&parse(&three).unwrap()), ["a", "b"]);
        // Its payload partly written.
        let mut three = journal(1, &["a", "b", "c"]);
        three[len - 3..].fill(0);
        assert_eq!(jtis(&parse(&three).unwrap()), ["a", "b"]);
        // Zeros after a complete journal (a preallocated tail).
        let mut padded = journal(1, &["a", "b"]);
        padded.extend([0u8; 4096]);
        let parsed = parse(&padded).unwrap();
        assert_eq!(jtis(&parsed), ["a", "b"]);
        assert_eq!(parsed.torn_bytes, 4096);
    }

    #[test]
    fn a_damaged_record_in_the_middle_is_an_error_not_a_loss() {
        let one = journal(1, &["a"]);
        let clean = journal(1, &["a", "b", "c"]);
        // A flipped byte in b's payload, its length, and its checksum.
        for offset in [one.len() + FRAME_LEN + 3, one.len() + 1, one.len() + 6] {
            let mut bytes = clean.clone();
            bytes[offset] ^= 0x40;
            let e = parse(&bytes).unwrap_err();
            assert!(e.contains("damaged"), "offset {offset}: {e}");
        }
    }

    #[test]
    fn a_record_of_another_generation_is_damage() {
        let mut bytes = journal(2, &["a"]);
        bytes.extend(record(1, "b"));
        bytes.extend(record(2, "c"));
        assert!(parse(&bytes).unwrap_err().contains("checksum"));
    }

    #[test]
    fn a_bad_header_is_an_error() {
        assert!(parse(b"").is_err());
        assert!(parse(&header(1)[..HEADER_LEN - 1]).is_err());
        let mut bytes = header(1);
        bytes[9] ^= 1;
        assert!(parse(&bytes).unwrap_err().contains("header"));
        let mut bytes = header(1);
        bytes[0] = b'X';
        assert!(parse(&bytes).unwrap_err().contains("magic"));
    }

    #[test]
    fn a_checksummed_record_that_is_not_changes_is_an_error() {
        let mut bytes = header(1);
        bytes.extend(frame(1, b"{\"not\":\"changes\"}").unwrap());
        assert!(parse(&bytes).unwrap_err().contains("does not parse"));
    }

    #[test]
    fn a_too_long_record_is_not_written() {
        assert!(frame(1, &vec![b' '; MAX_RECORD_BYTES + 1]).is_none());
        assert!(frame(1, b"").is_none());
    }
}
