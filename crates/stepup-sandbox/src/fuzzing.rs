//! For the fuzz targets in `fuzz/` only (feature `fuzzing`, off by default): the state file's
//! loader and writer of the private `store` module.

use std::path::Path;

/// Loads the state file at `path` as the sandbox does at start. When it loads, writes it back
/// to `copy` with the real writer and loads that copy: returns both states as JSON, which a
/// round trip must leave equal. `Ok(None)`: no file.
pub fn load_and_round_trip(
    path: &Path,
    copy: &Path,
) -> Result<Option<(serde_json::Value, serde_json::Value)>, String> {
    let Some(state) = crate::store::load(path).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let first = serde_json::to_value(&state).map_err(|e| format!("serialise: {e}"))?;
    crate::store::save(copy, &state).map_err(|e| format!("save: {e}"))?;
    let again = crate::store::load(copy)
        .map_err(|e| format!("reload: {e}"))?
        .ok_or("the saved copy is missing")?;
    let second = serde_json::to_value(&again).map_err(|e| format!("serialise: {e}"))?;
    Ok(Some((first, second)))
}
