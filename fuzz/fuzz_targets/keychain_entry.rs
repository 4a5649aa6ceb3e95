//! The keychain entry decoder (`layout::decode_head`) on hostile entries, and the
//! `encode` → `decode_head` round trip on arbitrary records.
//!
//! Asserts: no panic; a head that decodes is at most `MAX_ENTRY_BYTES`, claims 1..=`MAX_PARTS`
//! parts (the bound that keeps a load from allocating or looping on a hostile count), and its
//! part 0 is the text after the header line; a record of at most `MAX_RECORD_BYTES` encodes
//! into entries of at most `MAX_ENTRY_BYTES` each (no empty part, no split character) that
//! decode and reassemble to the record with the same generation; a larger one is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stepup_keychain::fuzzing::{decode_head, encode, MAX_ENTRY_BYTES, MAX_PARTS, MAX_RECORD_BYTES};

fuzz_target!(|data: &[u8]| {
    // 1. The input as a stored head.
    if let Ok(head) = std::str::from_utf8(data) {
        if let Ok((header, first)) = decode_head("fuzz", head) {
            assert!(head.len() <= MAX_ENTRY_BYTES, "decoded a head of {} bytes", head.len());
            assert!((1..=MAX_PARTS).contains(&header.parts), "claims {} parts", header.parts);
            assert!(head.ends_with(first), "part 0 is not the head's tail");
            assert_eq!(head.len() - first.len() - 1, head.find('\n').expect("newline"));
        }
    }

    // 2. The input as a record: 4 bytes of generation, 1 byte of repetition (so records reach
    // many parts and the size limit), the rest as text.
    if data.len() < 5 {
        return;
    }
    let generation = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let repeat = usize::from(data[4] % 64) + 1;
    let value = String::from_utf8_lossy(&data[5..]).repeat(repeat);
    match encode(&value, generation) {
        // Refused: over the byte limit, or so near it that character-boundary cuts (at most 3
        // wasted bytes a part) need more than MAX_PARTS entries.
        Err(_) => assert!(
            value.len() > MAX_RECORD_BYTES - 3 * MAX_PARTS,
            "refused a record of {} bytes",
            value.len()
        ),
        Ok(encoded) => {
            assert!(value.len() <= MAX_RECORD_BYTES, "accepted a record of {} bytes", value.len());
            assert!(encoded.head.len() <= MAX_ENTRY_BYTES, "head of {} bytes", encoded.head.len());
            for part in &encoded.tail {
                assert!(!part.is_empty() && part.len() <= MAX_ENTRY_BYTES, "part of {} bytes", part.len());
            }
            assert!(encoded.tail.len() < MAX_PARTS, "{} parts", encoded.tail.len() + 1);
            let (header, first) = decode_head("fuzz", &encoded.head).expect("own head decodes");
            assert_eq!(header.generation, generation);
            assert_eq!(header.parts, encoded.tail.len() + 1);
            let mut whole = first.to_owned();
            for part in &encoded.tail {
                whole.push_str(part);
            }
            assert!(whole == value, "the record does not reassemble");
        }
    }
});
