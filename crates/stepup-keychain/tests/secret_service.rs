//! `KeychainVault` against a real gnome-keyring on a private D-Bus session.
//!
//! Run them (Debian packages: gnome-keyring dbus libsecret-tools):
//! ```sh
//! dbus-run-session -- crates/stepup-keychain/with-keyring.sh cargo test -p stepup-keychain --test secret_service -- --include-ignored
//! ```
//! Every test is ignored unless asked for (`-- --include-ignored`, as `cargo xtask test` does);
//! outside `with-keyring.sh` (no `STEPUP_KEYCHAIN_TESTS=1`) each fails before it opens a
//! keyring: they must never touch a developer's own keyring, nor pass without running.
//!
//! Some checks run in a child process (this same test binary, running the ignored test
//! `child_role` with `STEPUP_KEYCHAIN_ROLE` set): a second process reading what the first
//! wrote, a session with no Secret Service, and a keyring of its own to lock.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::panic)] // test helpers outside #[test] functions

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use stepup_client::vault::{ElevatedToken, SessionRecord, TokenVault, VaultError, VaultSnapshot};
use stepup_keychain::KeychainVault;
use stepup_protocol::{SdkUser, Secret, TokenScope};

const APP: &str = "com.stepup.test";
/// The client's timeout around every vault call.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// An environment id no other test (or earlier run) uses.
fn env_id(test: &str) -> String {
    format!("{test}-{}", std::process::id())
}

fn service(env: &str) -> String {
    format!("{APP}/{env}")
}

fn open(env: &str) -> KeychainVault {
    KeychainVault::open_for_environment(APP, env).unwrap()
}

fn jwt(tag: &str, len: usize) -> Secret {
    let body: String = "abcdefghijklmnopqrstuvwxyz0123456789"
        .chars()
        .cycle()
        .take(len)
        .collect();
    Secret::new(format!("eyJ.{tag}-SECRET-{body}.sig"))
}

fn user() -> SdkUser {
    let credentials: Vec<serde_json::Value> = (0..30)
        .map(|i| serde_json::json!({"id": format!("cred-{i}"), "format": "blockchain", "address": format!("0x{i:040x}"), "chain": "EVM"}))
        .collect();
    serde_json::from_value(serde_json::json!({"id": "user-1", "email": "a@example.com", "verifiedCredentials": credentials})).unwrap()
}

/// What the writer stores and the reader expects: a session that needs several entries.
fn expected() -> VaultSnapshot {
    VaultSnapshot {
        session: Some(SessionRecord {
            token: jwt("session", 900),
            legacy_token: Some(jwt("legacy", 5_000)),
            expires_at: 2_000_000_000,
            user: user(),
            session_key: None,
        }),
        tokens: vec![ElevatedToken {
            token: jwt("elevated", 700),
            scopes: vec![TokenScope::WalletExport],
            expires_at_ms: 2_000_000_000_000,
            single_use: true,
        }],
        device_key: Some(Secret::new("0123456789abcdef".repeat(4))),
    }
}

fn write_expected(vault: &KeychainVault) {
    let snap = expected();
    vault.put_session(snap.session.as_ref().unwrap()).unwrap();
    for t in &snap.tokens {
        vault.put_token(t).unwrap();
    }
    vault
        .put_device_key(snap.device_key.as_ref().unwrap())
        .unwrap();
}

/// Runs `child_role` in a new process of this test binary.
fn child(role: &str, env: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_role",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("STEPUP_KEYCHAIN_ROLE", role)
    .env("STEPUP_KEYCHAIN_CHILD_ENV", env);
    cmd
}

fn assert_child_ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains("CHILD-OK"),
        "child failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{stdout}");
    stdout
}

/// `secret-tool search --all service <service>`: stdout (labels, secrets) and stderr (attributes).
fn secret_tool_search(service: &str) -> (String, String) {
    let out = Command::new("secret-tool")
        .args(["search", "--all", "service", service])
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Attribute `name` of every item in a `secret-tool search` attribute listing.
fn attribute_values(stderr: &str, name: &str) -> Vec<String> {
    let prefix = format!("attribute.{name} = ");
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_owned)
        .collect()
}

fn with_keyring_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("with-keyring.sh")
}

#[test]
#[ignore = "needs a Secret Service: run inside with-keyring.sh"]
fn what_one_process_stores_another_reads_back() {
    support::require_private_keyring();
    let env = env_id("cross-process");
    assert_child_ok(&child("write", &env).output().unwrap());
    assert_child_ok(&child("read", &env).output().unwrap());
    let vault = open(&env);
    assert_eq!(vault.load().unwrap(), expected());
    vault.clear().unwrap();
}

#[test]
#[ignore = "needs a Secret Service: run inside with-keyring.sh"]
fn a_write_replaces_the_item_an_earlier_version_stored_and_never_duplicates_it() {
    // The one-call write (CreateItem with replace) must land on the item keyring-core's store
    // made (same attributes), or the next read would find two and fail as ambiguous.
    support::require_private_keyring();
    let env = env_id("replace");
    let svc = service(&env);
    let mut store = Command::new("secret-tool")
        .args([
            "store",
            &format!("--label=keyring:device-key@{svc}"),
            "service",
            &svc,
            "username",
            "device-key",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    store
        .stdin
        .take()
        .unwrap()
        .write_all(format!("stepup1 00000001 1\n{}", "ab".repeat(32)).as_bytes())
        .unwrap();
    assert!(store.wait().unwrap().success());
    let vault = open(&env);
    assert_eq!(
        vault
            .load()
            .unwrap()
            .device_key
            .map(|k| k.expose().to_owned()),
        Some("ab".repeat(32))
    );
    for round in 0..3 {
        let key = Secret::new(format!("{round}").repeat(64));
        vault.put_device_key(&key).unwrap();
        let (_, attributes) = secret_tool_search(&svc);
        assert_eq!(
            attribute_values(&attributes, "username"),
            ["device-key"],
            "one item after write {round}"
        );
        // Another process's view (a fresh vault reads through keyring-core's store).
        assert_eq!(open(&env).load().unwrap().device_key, Some(key));
    }
    vault.clear().unwrap();
    assert_eq!(secret_tool_search(&svc).1, "");
}

#[test]
#[ignore = "needs a Secret Service: run inside with-keyring.sh"]
fn entries_carry_service_and_username_and_no_secret_in_attributes_or_label() {
    support::require_private_keyring();
    let env = env_id("attributes");
    let vault = open(&env);
    write_expected(&vault);
    let (stdout, stderr) = secret_tool_search(&service(&env));

    let services = attribute_values(&stderr, "service");
    assert!(
        !services.is_empty(),
        "secret-tool found nothing:\n{stdout}\n{stderr}"
    );
    assert!(services.iter().all(|s| *s == service(&env)), "{services:?}");
    let users = attribute_values(&stderr, "username");
    assert_eq!(users.len(), services.len());
    for name in ["index", "session", "device-key", "token:wallet:export"] {
        assert!(
            users.iter().any(|u| u == name),
            "no entry `{name}` in {users:?}"
        );
    }
    // The 5 KB legacy JWT made the session several entries.
    assert!(
        users.iter().filter(|u| u.starts_with("session~")).count() >= 2,
        "{users:?}"
    );
    // Attribute names are only the store's own.
    for line in stderr.lines().filter(|l| l.starts_with("attribute.")) {
        assert!(
            line.starts_with("attribute.service = ") || line.starts_with("attribute.username = "),
            "{line}"
        );
    }
    // Secrets only in `secret = ` lines, never in attributes or labels.
    assert!(
        !stderr.contains("SECRET") && !stderr.contains("0123456789abcdef"),
        "{stderr}"
    );
    for line in stdout.lines().filter(|l| l.starts_with("label = ")) {
        assert!(
            !line.contains("SECRET") && !line.contains("0123456789abcdef"),
            "{line}"
        );
    }
    assert!(
        stdout.contains("elevated-SECRET-"),
        "the token is stored as a secret"
    );
    vault.clear().unwrap();
}

#[test]
#[ignore = "needs a Secret Service: run inside with-keyring.sh"]
fn clear_leaves_no_entry() {
    support::require_private_keyring();
    let env = env_id("clear");
    let vault = open(&env);
    write_expected(&vault);
    vault.clear().unwrap();
    let (stdout, stderr) = secret_tool_search(&service(&env));
    assert!(
        !stdout.contains("secret = ") && !stderr.contains("attribute."),
        "left over:\n{stdout}\n{stderr}"
    );
    assert_eq!(vault.load().unwrap(), VaultSnapshot::default());
}

#[test]
#[ignore = "needs a Secret Service: run inside with-keyring.sh"]
fn remove_token_keeps_index_and_entries_consistent() {
    support::require_private_keyring();
    let env = env_id("remove");
    let vault = open(&env);
    let mut tokens = expected().tokens;
    tokens.push(ElevatedToken {
        token: jwt("sign", 50),
        scopes: vec![TokenScope::WalletSign, TokenScope::WalletExport],
        expires_at_ms: 1,
        single_use: false,
    });
    tokens.push(ElevatedToken {
        token: jwt("link", 50),
        scopes: vec![TokenScope::CredentialLink],
        expires_at_ms: 1,
        single_use: false,
    });
    for t in &tokens {
        vault.put_token(t).unwrap();
    }
    assert_eq!(vault.load().unwrap().tokens.len(), 3);

    vault.remove_token(&tokens[1].scope_key()).unwrap();
    vault.remove_token("not:stored").unwrap();
    let left: Vec<String> = vault
        .load()
        .unwrap()
        .tokens
        .iter()
        .map(ElevatedToken::scope_key)
        .collect();
    assert_eq!(left, [tokens[2].scope_key(), tokens[0].scope_key()]);
    let (_, stderr) = secret_tool_search(&service(&env));
    let users = attribute_values(&stderr, "username");
    assert!(
        !users
            .iter()
            .any(|u| *u == format!("token:{}", tokens[1].scope_key())),
        "{users:?}"
    );

    // A token entry deleted behind the vault's back: dropped from the load and from the index.
    let gone = format!("token:{}", tokens[2].scope_key());
    let status = Command::new("secret-tool")
        .args(["clear", "service", &service(&env), "username", &gone])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(vault.load().unwrap().tokens, [tokens[0].clone()]);
    let index = Command::new("secret-tool")
        .args(["lookup", "service", &service(&env), "username", "index"])
        .output()
        .unwrap();
    let index = String::from_utf8_lossy(&index.stdout);
    assert!(
        index.contains(&tokens[0].scope_key()) && !index.contains(&tokens[2].scope_key()),
        "{index}"
    );
    vault.clear().unwrap();
}

#[test]
#[ignore = "needs a Secret Service: run inside with-keyring.sh"]
fn two_environments_never_mix() {
    support::require_private_keyring();
    let (a, b) = (open(&env_id("env-a")), open(&env_id("env-b")));
    write_expected(&a);
    assert_eq!(b.load().unwrap(), VaultSnapshot::default());
    b.clear().unwrap();
    assert_eq!(a.load().unwrap(), expected());
    a.clear().unwrap();
}

#[test]
#[ignore = "needs a Secret Service: run inside with-keyring.sh"]
fn open_async_works_inside_a_tokio_runtime() {
    support::require_private_keyring();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let vault = KeychainVault::open_async(APP, &env_id("async"), CLIENT_TIMEOUT)
            .await
            .unwrap();
        let vault = std::sync::Arc::new(vault);
        let v = vault.clone();
        let snap = tokio::task::spawn_blocking(move || v.load())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(snap, VaultSnapshot::default());
        assert!(!vault.is_locked().unwrap());
    });
}

#[test]
#[ignore = "needs a Secret Service: run inside with-keyring.sh"]
fn a_locked_collection_is_locked_for_reads_and_writes_within_the_timeout() {
    support::require_private_keyring();
    // A keyring of its own: locking the shared one would fail the tests running beside this one.
    let home = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("keyring-locked-{}", std::process::id()));
    let mut cmd = Command::new("dbus-run-session");
    cmd.arg("--")
        .arg(with_keyring_script())
        .arg(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_role",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("STEPUP_KEYRING_HOME", &home)
    .env("STEPUP_KEYCHAIN_ROLE", "locked")
    .env("STEPUP_KEYCHAIN_CHILD_ENV", env_id("locked"));
    let out = cmd.output().unwrap();
    let _ = std::fs::remove_dir_all(&home);
    assert_child_ok(&out);
}

#[test]
#[ignore = "needs a Secret Service: run inside with-keyring.sh"]
fn no_session_bus_is_unavailable_quickly() {
    support::require_private_keyring();
    let out = child("unavailable", &env_id("no-bus"))
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
        .output()
        .unwrap();
    let stdout = assert_child_ok(&out);
    assert!(stdout.contains("session bus"), "{stdout}");
}

#[test]
#[ignore = "needs a Secret Service: run inside with-keyring.sh"]
fn a_bus_without_secret_service_is_unavailable_quickly() {
    support::require_private_keyring();
    // A session bus with no service directories: nothing can be activated.
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("bare-bus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("session.conf");
    std::fs::write(
        &config,
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
            dir.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new("dbus-run-session");
    cmd.arg(format!("--config-file={}", config.display()))
        .arg("--")
        .arg(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_role",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("STEPUP_KEYCHAIN_ROLE", "unavailable")
    .env("STEPUP_KEYCHAIN_CHILD_ENV", env_id("bare-bus"));
    let out = cmd.output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = assert_child_ok(&out);
    assert!(stdout.contains("Secret Service"), "{stdout}");
}

/// The child processes' side. Ignored: only ever run by the tests above.
#[test]
#[ignore = "child process of the keychain tests"]
fn child_role() {
    let Ok(role) = std::env::var("STEPUP_KEYCHAIN_ROLE") else {
        return;
    };
    let env = std::env::var("STEPUP_KEYCHAIN_CHILD_ENV").unwrap();
    match role.as_str() {
        "write" => write_expected(&open(&env)),
        "read" => assert_eq!(open(&env).load().unwrap(), expected()),
        "unavailable" => {
            let started = Instant::now();
            let err = KeychainVault::open_for_environment(APP, &env).unwrap_err();
            let took = started.elapsed();
            assert!(matches!(err, VaultError::Unavailable(_)), "{err:?}");
            assert!(took < CLIENT_TIMEOUT, "took {took:?}");
            println!("unavailable after {took:?}: {err}");
        }
        "locked" => locked_role(&env),
        other => panic!("unknown role {other}"),
    }
    println!("CHILD-OK");
}

/// In a private keyring: store, lock the default collection over D-Bus, then every call must
/// say Locked (not "no token"), fast.
fn locked_role(env: &str) {
    let vault = open(env);
    write_expected(&vault);
    assert!(!vault.is_locked().unwrap());
    let lock = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            "array:objpath:/org/freedesktop/secrets/aliases/default",
        ])
        .output()
        .unwrap();
    assert!(
        lock.status.success(),
        "{}",
        String::from_utf8_lossy(&lock.stderr)
    );
    assert!(vault.is_locked().unwrap());

    let timed = |what: &str, f: &dyn Fn() -> Result<(), VaultError>| {
        let started = Instant::now();
        let result = f();
        let took = started.elapsed();
        println!("{what}: {result:?} in {took:?}");
        assert_eq!(result, Err(VaultError::Locked), "{what}");
        assert!(took < CLIENT_TIMEOUT, "{what} took {took:?}");
    };
    timed("load", &|| vault.load().map(|_| ()));
    timed("put_token", &|| vault.put_token(&expected().tokens[0]));
    timed("put_session", &|| {
        vault.put_session(expected().session.as_ref().unwrap())
    });
    timed("put_device_key", &|| {
        vault.put_device_key(&Secret::new("k"))
    });
    timed("remove_token", &|| vault.remove_token("wallet:export"));
    timed("clear", &|| vault.clear());
    // A fresh process sees the same.
    timed("load (new vault)", &|| open(env).load().map(|_| ()));
}
