//! `stepup-uv-helper`: the OS's user verification for the device passkey on Linux.
//!
//! The app runs it through `pkexec` (polkit action `org.stepup.desktop.verify-user`,
//! `auth_self`, never kept), so it starts only after polkit's agent has had the user
//! authenticate as themself (their login password, a fingerprint: whatever PAM asks). It then
//! runs as root and answers the key that seals that user's device passkey:
//!
//! `key = HMAC-SHA256(secret(uid), "stepup-device-passkey/os/v1" || salt)`
//!
//! where `secret(uid)` is 32 random bytes in `/var/lib/stepup-desktop/uv/<uid>` (root only,
//! made on first use) and `salt` is the envelope's 16-byte salt, read from standard input as
//! base64url. The user's own processes cannot read the secret, so the sealed passkey cannot be
//! opened without polkit's yes: the "user verified" flag the device passkey reports is earned.
//!
//! Input and output are bounded: at most 64 bytes are read; the answer is 43 characters.

use sha2::{Digest as _, Sha256};
use std::fs;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Where the per-user secrets live.
const STATE_DIR: &str = "/var/lib/stepup-desktop/uv";
const SALT_LEN: usize = 16;
const SECRET_LEN: usize = 32;
const CONTEXT: &[u8] = b"stepup-device-passkey/os/v1";

fn main() -> ExitCode {
    match run() {
        Ok(key) => {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{key}").and_then(|()| out.flush()).is_err() {
                return ExitCode::from(3);
            }
            ExitCode::SUCCESS
        }
        Err(why) => {
            // Not a secret: only what went wrong, for the app's log.
            let _ = writeln!(std::io::stderr(), "stepup-uv-helper: {why}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<String, String> {
    // pkexec runs programs as root with PKEXEC_UID set to the user who authenticated.
    let uid: u32 = std::env::var("PKEXEC_UID")
        .map_err(|_| "run me through pkexec".to_owned())?
        .parse()
        .map_err(|_| "PKEXEC_UID is not a uid".to_owned())?;
    let me = fs::metadata("/proc/self").map_err(|e| format!("cannot read /proc/self: {e}"))?;
    if me.uid() != 0 {
        return Err("not running as root: run me through pkexec".into());
    }
    if uid == 0 {
        return Err("root has no device passkey to release".into());
    }
    let mut input = Vec::with_capacity(64);
    std::io::stdin()
        .lock()
        .take(64)
        .read_to_end(&mut input)
        .map_err(|e| format!("cannot read the salt: {e}"))?;
    let salt = decode_salt(input.trim_ascii())?;
    let secret = secret_of(Path::new(STATE_DIR), uid)?;
    Ok(encode(&derive(&secret, &salt)))
}

/// The user's secret, made (32 bytes from the kernel, root-only) when there is none.
fn secret_of(dir: &Path, uid: u32) -> Result<[u8; SECRET_LEN], String> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    let path: PathBuf = dir.join(uid.to_string());
    let mut secret = [0u8; SECRET_LEN];
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut file) => {
            fs::File::open("/dev/urandom")
                .and_then(|mut r| r.read_exact(&mut secret))
                .map_err(|e| format!("no randomness: {e}"))?;
            file.write_all(&secret)
                .and_then(|()| file.sync_all())
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mut file = fs::File::open(&path)
                .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
            let meta = file.metadata().map_err(|e| e.to_string())?;
            if meta.len() != SECRET_LEN as u64 || meta.uid() != 0 || meta.mode() & 0o077 != 0 {
                return Err(format!("{} is not a secret of ours", path.display()));
            }
            file.read_exact(&mut secret)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        }
        Err(e) => return Err(format!("cannot make {}: {e}", path.display())),
    }
    Ok(secret)
}

/// HMAC-SHA256(secret, CONTEXT || salt) (RFC 2104; the key is one block or less).
fn derive(secret: &[u8; SECRET_LEN], salt: &[u8; SALT_LEN]) -> [u8; 32] {
    let mut ipad = [0x36u8; 64];
    let mut opad = [0x5cu8; 64];
    for (i, byte) in secret.iter().enumerate() {
        ipad[i] ^= byte;
        opad[i] ^= byte;
    }
    let inner = Sha256::new()
        .chain_update(ipad)
        .chain_update(CONTEXT)
        .chain_update(salt)
        .finalize();
    Sha256::new()
        .chain_update(opad)
        .chain_update(inner)
        .finalize()
        .into()
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding.
fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// The 16-byte salt from its 22 base64url characters.
fn decode_salt(text: &[u8]) -> Result<[u8; SALT_LEN], String> {
    let bad = || "the salt is not 16 bytes of base64url".to_owned();
    if text.len() != 22 {
        return Err(bad());
    }
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::with_capacity(SALT_LEN);
    for &c in text {
        let v = ALPHABET.iter().position(|&a| a == c).ok_or_else(bad)? as u32;
        bits = bits << 6 | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    if bits != 0 {
        return Err(bad());
    }
    out.try_into().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_round_trips_and_refuses_what_is_not_a_salt() {
        let salt: [u8; 16] = *b"0123456789abcdef";
        assert_eq!(encode(&salt).len(), 22);
        assert_eq!(decode_salt(encode(&salt).as_bytes()), Ok(salt));
        assert_eq!(encode(b"\xfb\xff"), "-_8");
        for bad in [
            "",
            "short",
            "MDEyMzQ1Njc4OWFiY2RlZg==",
            "MDEyMzQ1Njc4OWFiY2RlZ/",
            "MDEyMzQ1Njc4OWFiY2RlZh",
        ] {
            assert!(decode_salt(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_key_is_hmac_sha256_of_the_context_and_salt() {
        // Python's hmac.new(b"\x0b" * 32, CONTEXT + b"\x07" * 16, sha256).
        let secret = [0x0bu8; 32];
        let salt = [7u8; 16];
        let expected = "0af1f9f9a0b69a848035c44da5dfe9da51bc2bbd5e2b32246ea80c154596427b";
        let got: String = derive(&secret, &salt)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(got, expected);
        assert_ne!(derive(&secret, &[8u8; 16]), derive(&secret, &salt));
    }

    #[test]
    fn a_secret_is_made_once_root_only_and_a_foreign_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("uv-helper-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let first = secret_of(&dir, 4242).expect("made");
        assert_eq!(secret_of(&dir, 4242).expect("read"), first);
        assert_ne!(secret_of(&dir, 4243).expect("made"), first);
        let mode = fs::metadata(dir.join("4242")).expect("meta").mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::write(dir.join("4244"), b"short").expect("write");
        assert!(secret_of(&dir, 4244).is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}
