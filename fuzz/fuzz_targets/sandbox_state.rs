//! The sandbox's state file loader (`store::load`, through `stepup_sandbox::fuzzing`) on
//! hostile files: the input is written as the state file and loaded as at start.
//!
//! Asserts: no panic; a state that loads is written back by the real writer and loads again
//! to the same state (compared as JSON).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // tmpfs when there is one: every execution writes two small files.
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

fuzz_target!(|data: &[u8]| {
    let path = dir().join("state.json");
    let copy = dir().join("copy.json");
    std::fs::write(&path, data).expect("write the state file");
    match stepup_sandbox::fuzzing::load_and_round_trip(&path, &copy) {
        Ok(Some((first, second))) => assert_eq!(first, second, "the state changes through save and load"),
        Ok(None) => panic!("the state file vanished"),
        Err(e) => assert!(
            !e.starts_with("save") && !e.starts_with("reload") && !e.starts_with("serialise"),
            "a loaded state does not survive save and load: {e}"
        ),
    }
});
