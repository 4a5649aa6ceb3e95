//! The sandbox's state loader (`store::load`, through `stepup_sandbox::fuzzing`) on hostile
//! files: a snapshot and the journal replayed over it, loaded as at start.
//!
//! Input: the snapshot's bytes, then optionally a journal:
//! - `\0raw-journal\0` and the journal's bytes as they are (header, framing, checksums and
//!   tears are fuzzed), or
//! - `\0journal\0` and record payloads separated by `\0record\0`: the target frames each one
//!   with a valid length and checksum in a journal of the snapshot's generation, so the
//!   payloads reach the change parser and its replay.
//!
//! Asserts: no panic; a state that loads is written back by the real writer (a compaction)
//! and loads again to the same state (compared as JSON).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

const RAW: &[u8] = b"\0raw-journal\0";
const FRAMED: &[u8] = b"\0journal\0";
const RECORD: &[u8] = b"\0record\0";

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // tmpfs when there is one: every execution writes a few small files.
        let base = ["/dev/shm", "/tmp"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("stepup-fuzz-sandbox-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("state dir");
        dir
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn split<'a>(mut data: &'a [u8], separator: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    while let Some(at) = find(data, separator) {
        parts.push(&data[..at]);
        data = &data[at + separator.len()..];
    }
    parts.push(data);
    parts
}

/// (snapshot, journal if any).
fn files(data: &[u8]) -> (&[u8], Option<Vec<u8>>) {
    let raw = find(data, RAW);
    let framed = find(data, FRAMED);
    match (raw, framed) {
        (Some(r), f) if f.is_none_or(|f| r < f) => {
            (&data[..r], Some(data[r + RAW.len()..].to_vec()))
        }
        (_, Some(f)) => {
            let snapshot = &data[..f];
            let payloads = split(&data[f + FRAMED.len()..], RECORD);
            let journal = stepup_sandbox::fuzzing::framed_journal(snapshot, &payloads);
            (snapshot, Some(journal))
        }
        _ => (data, None),
    }
}

fuzz_target!(|data: &[u8]| {
    let path = dir().join("state.json");
    let copy = dir().join("copy.json");
    let journal = stepup_sandbox::fuzzing::journal_path(&path);
    let (snapshot, journal_bytes) = files(data);
    std::fs::write(&path, snapshot).expect("write the snapshot");
    match journal_bytes {
        Some(bytes) => std::fs::write(&journal, bytes).expect("write the journal"),
        None => match std::fs::remove_file(&journal) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("remove the journal: {e}"),
        },
    }
    match stepup_sandbox::fuzzing::load_and_round_trip(&path, &copy) {
        Ok(Some((first, second))) => assert_eq!(first, second, "the state changes through save and load"),
        Ok(None) => panic!("the state file vanished"),
        Err(e) => assert!(
            !e.starts_with("save") && !e.starts_with("reload") && !e.starts_with("serialise"),
            "a loaded state does not survive save and load: {e}"
        ),
    }
});
