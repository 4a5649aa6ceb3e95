//! A secret scan: after a full step-up against the sandbox with the keychain vault, the elevated
//! token, the session JWT and the one-time codes appear in no file under the test's home and XDG
//! directories, and in no log line (every target captured at TRACE level).
//!
//! Ignored unless asked for, like the other keychain tests: runs with `--include-ignored`
//! inside `with-keyring.sh`, and fails outside it.
#![cfg(target_os = "linux")]

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use stepup_client::vault::TokenVault;
use stepup_client::TokenScope;

/// Collects everything the tracing subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_under(&path, out);
        } else if path.is_file() {
            out.push(path);
        }
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Secret Service: run inside with-keyring.sh"]
async fn no_secret_reaches_a_file_or_a_log() {
    support::require_private_keyring();
    let xdg = PathBuf::from(std::env::var("STEPUP_KEYRING_HOME").expect("with-keyring.sh sets it"));
    let home = tempdir_in(&xdg);
    // Anything that writes under $HOME during this test writes into a directory we scan.
    std::env::set_var("HOME", &home);

    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let w = support::signed_in("scan@example.com", "scan").await;
    let totp = w
        .step_up(TokenScope::CredentialLink)
        .await
        .expect("step-up");
    let (client, vault, sign_in_code) = (&w.client, &w.vault, &w.sign_in_code);
    tracing::info!(client = ?client.elevated_tokens(), snapshot = ?vault.load(), "state after the step-up");

    let snapshot = vault
        .load()
        .expect("the keychain holds the session and the token");
    let session = snapshot.session.clone().expect("session").token;
    let token = snapshot.tokens.first().expect("token").token.clone();
    let device_key = snapshot.device_key.clone().expect("device key");
    let secrets = [
        ("elevated token", token.expose().to_owned()),
        ("session JWT", session.expose().to_owned()),
        ("sign-in code", sign_in_code.expose().to_owned()),
        ("TOTP code", totp.expose().to_owned()),
        ("device key", device_key.expose().to_owned()),
    ];
    // The JWT's signature part alone must not leak either.
    let token_sig = token
        .expose()
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_owned();

    client
        .register_totp_device()
        .await
        .expect("the token is attached from the keychain");

    let log = log.0.lock().expect("log").clone();
    assert!(
        log.len() > 1000,
        "the log captured the run ({} bytes)",
        log.len()
    );
    let mut files = Vec::new();
    files_under(&xdg, &mut files);
    files_under(&home, &mut files);
    assert!(!files.is_empty());
    for (what, value) in secrets.iter().chain([&("token signature", token_sig)]) {
        assert!(!contains(&log, value), "the {what} appears in the log");
        for file in &files {
            let bytes = std::fs::read(file).unwrap_or_default();
            assert!(
                !contains(&bytes, value),
                "the {what} appears in {}",
                file.display()
            );
        }
    }
    client.logout().await.expect("logout");
    assert!(vault.load().expect("load").session.is_none());
    w.sandbox.shutdown().await;
}

fn tempdir_in(base: &Path) -> PathBuf {
    let dir = base.join(format!("home-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("home");
    dir
}
