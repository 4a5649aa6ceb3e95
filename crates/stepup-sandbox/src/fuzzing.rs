//! For the fuzz targets in `fuzz/` only (feature `fuzzing`, off by default): the state file's
//! loader (snapshot and journal replay) and writer of the private `store` module.

use std::path::{Path, PathBuf};

/// The journal the loader reads beside the snapshot at `path`.
pub fn journal_path(path: &Path) -> PathBuf {
    crate::store::journal_path(path)
}

/// A journal that extends `snapshot` (of the generation it names, 0 if it names none), with
/// one well-formed record (valid length and checksum) per payload: the loader then parses and
/// applies the payloads. A payload too long for a record is left out.
pub fn framed_journal(snapshot: &[u8], payloads: &[&[u8]]) -> Vec<u8> {
    let generation = serde_json::from_slice::<serde_json::Value>(snapshot)
        .ok()
        .and_then(|v| v.get("journalGeneration").and_then(|g| g.as_u64()))
        .unwrap_or(0);
    crate::store::journal_bytes(generation, payloads)
}

/// Loads the state at `path` (snapshot and journal) as the sandbox does at start. When it
/// loads, writes it to `copy` with the real writer (a compaction: new snapshot, empty
/// journal) and loads that copy: returns both states as JSON without their journal
/// generation (a compaction moves it on), which a round trip must leave equal. `Ok(None)`: no
/// snapshot.
pub fn load_and_round_trip(
    path: &Path,
    copy: &Path,
) -> Result<Option<(serde_json::Value, serde_json::Value)>, String> {
    let Some(state) = crate::store::load(path).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let as_json = |state: &crate::store::PersistedState| {
        let mut v = serde_json::to_value(state).map_err(|e| format!("serialise: {e}"))?;
        if let Some(map) = v.as_object_mut() {
            map.remove("journalGeneration");
        }
        Ok::<_, String>(v)
    };
    let first = as_json(&state)?;
    crate::store::save(copy, state).map_err(|e| format!("save: {e}"))?;
    let again = crate::store::load(copy)
        .map_err(|e| format!("reload: {e}"))?
        .ok_or("the saved copy is missing")?;
    let second = as_json(&again)?;
    Ok(Some((first, second)))
}

/// The SIWE (EIP-4361) message parser of `wallets/verify`, on hostile text: `Ok` with the
/// parsed fields' total length (bounded by the input), or the refusal.
pub fn parse_siwe(message: &str) -> Result<usize, &'static str> {
    let m = crate::authority::siwe::parse(message)?;
    Ok(m.domain.len()
        + m.address.len()
        + m.statement.as_ref().map_or(0, String::len)
        + m.uri.len()
        + m.chain_id.as_ref().map_or(0, String::len)
        + m.nonce.len()
        + m.request_id.as_ref().map_or(0, String::len))
}

/// EIP-191 signer recovery on a hostile message and signature: the address (0x + 40 hex) or
/// the refusal.
pub fn recover_siwe_signer(message: &str, signature: &str) -> Result<String, &'static str> {
    crate::authority::siwe::recover_personal_signer(message, signature)
}
