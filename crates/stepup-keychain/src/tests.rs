//! The vault's logic on keyring-core's in-memory mock store: layout, sizes, write order.
//! The real keychain is exercised by `tests/secret_service.rs`.

use super::*;
use keyring_core::mock;
use stepup_protocol::{SdkUser, TokenScope};

fn vault() -> (KeychainVault, Arc<mock::Store>) {
    let store = mock::Store::new().unwrap();
    let dyn_store: Arc<CredentialStore> = store.clone();
    (
        KeychainVault::with_store("com.stepup.test/env", dyn_store, None),
        store,
    )
}

/// Every entry the mock store holds a secret for: (user, secret length).
fn entries(store: &mock::Store) -> Vec<(String, usize)> {
    let inner = store.inner.lock().unwrap();
    let creds = inner.borrow();
    creds
        .iter()
        .filter_map(|c| {
            let data = c.inner.lock().unwrap();
            let len = data.borrow().secret.as_ref().map(Vec::len);
            len.map(|len| (c.specifiers.1.clone(), len))
        })
        .collect()
}

fn long_jwt(len: usize) -> Secret {
    let body: String = "abcdefghijklmnopqrstuvwxyz0123456789-_"
        .chars()
        .cycle()
        .take(len)
        .collect();
    Secret::new(format!("eyJhbGciOiJFUzI1NiJ9.{body}.sig"))
}

fn large_user() -> SdkUser {
    let credentials: Vec<serde_json::Value> = (0..60)
        .map(|i| {
            serde_json::json!({
                "id": format!("0b6f3c9e-7a2d-4f7e-9d11-{i:012}"),
                "format": "blockchain",
                "signInEnabled": true,
                "address": format!("0x{i:040x}"),
                "chain": "EVM",
                "wallet_name": "turnkeyhd — ünïcödé wallet name",
                "wallet_provider": "embeddedWallet",
            })
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "id": "user-1",
        "environmentId": "env-1",
        "email": "someone@example.com",
        "sessionId": "session-1",
        "scope": "requiresAdditionalAuth",
        "verifiedCredentials": credentials,
    }))
    .unwrap()
}

fn session() -> SessionRecord {
    SessionRecord {
        token: long_jwt(1_500),
        legacy_token: Some(long_jwt(9_000)),
        expires_at: 2_000_000_000,
        user: large_user(),
        session_key: None,
    }
}

fn token(scopes: &[TokenScope], jwt_len: usize) -> ElevatedToken {
    ElevatedToken {
        token: long_jwt(jwt_len),
        scopes: scopes.to_vec(),
        expires_at_ms: 2_000_000_000_000,
        single_use: false,
    }
}

#[test]
fn no_entry_exceeds_the_windows_limit_for_a_large_user_and_long_jwts() {
    let (v, store) = vault();
    let session = session();
    assert!(
        serde_json::to_string(&session).unwrap().len() > 5 * MAX_ENTRY_BYTES,
        "the test must need several parts"
    );
    v.put_session(&session).unwrap();
    v.put_token(&token(&[TokenScope::WalletExport], 4_000))
        .unwrap();
    v.put_token(&token(
        &[TokenScope::WalletSign, TokenScope::WalletExport],
        300,
    ))
    .unwrap();
    v.put_device_key(&Secret::new("ab".repeat(32))).unwrap();
    let all = entries(&store);
    assert!(all.len() > 8, "{all:?}");
    for (user, len) in &all {
        assert!(*len <= MAX_ENTRY_BYTES, "entry `{user}` holds {len} bytes");
        assert!(*len <= 2_560, "Windows' CRED_MAX_CREDENTIAL_BLOB_SIZE");
    }
    let snap = v.load().unwrap();
    assert_eq!(snap.session, Some(session));
    assert_eq!(snap.tokens.len(), 2);
    assert_eq!(
        snap.device_key.as_ref().map(Secret::expose),
        Some("ab".repeat(32).as_str())
    );
}

#[test]
fn rewriting_a_large_record_leaves_no_old_parts() {
    let (v, store) = vault();
    v.put_session(&session()).unwrap();
    let first = entries(&store).len();
    v.put_session(&session()).unwrap();
    assert_eq!(entries(&store).len(), first);
    let mut small = session();
    small.legacy_token = None;
    small.user.verified_credentials.clear();
    v.put_session(&small).unwrap();
    assert_eq!(
        entries(&store)
            .iter()
            .map(|(u, _)| u.as_str())
            .collect::<Vec<_>>(),
        ["session"]
    );
    assert_eq!(v.load().unwrap().session, Some(small));
}

#[test]
fn put_token_replaces_the_token_of_the_same_scope_set() {
    let (v, _) = vault();
    v.put_token(&token(
        &[TokenScope::WalletSign, TokenScope::WalletExport],
        10,
    ))
    .unwrap();
    let mut newer = token(&[TokenScope::WalletExport, TokenScope::WalletSign], 20);
    newer.expires_at_ms += 1;
    v.put_token(&newer).unwrap();
    assert_eq!(v.load().unwrap().tokens, [newer]);
}

#[test]
fn remove_token_deletes_the_entry_and_the_next_load_drops_its_index_key() {
    let (v, store) = vault();
    let a = token(&[TokenScope::WalletExport], 10);
    let b = token(&[TokenScope::WalletSign], 10);
    v.put_token(&a).unwrap();
    v.put_token(&b).unwrap();
    v.remove_token(&a.scope_key()).unwrap();
    v.remove_token("never:stored").unwrap();
    // One delete: the index still lists the key (a superset of the tokens) ...
    let raw_index = |v: &KeychainVault| -> Index {
        v.forget_known();
        serde_json::from_str(&v.read_record(INDEX).unwrap().unwrap()).unwrap()
    };
    assert_eq!(raw_index(&v).tokens, [a.scope_key(), b.scope_key()]);
    // ... which is what the next load sees, and fixes.
    assert_eq!(v.load().unwrap().tokens, std::slice::from_ref(&b));
    assert_eq!(raw_index(&v).tokens, [b.scope_key()]);
    assert!(!entries(&store)
        .iter()
        .any(|(u, _)| u == "token:wallet:export"));
}

#[test]
fn load_drops_and_repairs_an_index_key_whose_token_is_gone() {
    let (v, _) = vault();
    let a = token(&[TokenScope::WalletExport], 10);
    let b = token(&[TokenScope::WalletSign], 10);
    v.put_token(&a).unwrap();
    v.put_token(&b).unwrap();
    // As after a crash or a deletion by hand.
    v.delete_record(&layout::token_record(&a.scope_key()))
        .unwrap();
    assert_eq!(v.load().unwrap().tokens, std::slice::from_ref(&b));
    let index: Index = serde_json::from_str(&v.read_record(INDEX).unwrap().unwrap()).unwrap();
    assert_eq!(index.tokens, [b.scope_key()]);
}

#[test]
fn a_token_entry_without_index_key_is_not_loaded_and_clear_removes_it() {
    let (v, store) = vault();
    let a = token(&[TokenScope::WalletExport], 10);
    // As after a crash between writing the token and the index.
    v.write_json(&layout::token_record(&a.scope_key()), &a)
        .unwrap();
    assert!(v.load().unwrap().tokens.is_empty());
    v.clear().unwrap();
    assert!(entries(&store).is_empty());
}

#[test]
fn damaged_entries_are_removed_and_the_load_goes_on() {
    let (v, _) = vault();
    for damaged in [
        "stepup1 00000001 1\n{not json",
        "no header",
        // Part 2 of 2 missing.
        "stepup1 00000001 2\n{",
        // Hostile part counts: a reader that believed them would allocate petabytes
        // (10^14 parts) or loop for ever.
        "stepup1 00000001 100000000000000\n{",
        "stepup1 00000001 1000000000000\n{",
        "stepup1 00000001 18446744073709551615\n{",
    ] {
        v.set_raw(SESSION, damaged).unwrap();
        v.put_device_key(&Secret::new("k")).unwrap();
        let loaded = v.load().expect("a damaged entry never stops the load");
        assert_eq!(loaded.session, None, "{damaged:?}");
        assert!(loaded.device_key.is_some(), "the other records stay");
        assert_eq!(v.get_raw(SESSION).unwrap(), None, "removed: {damaged:?}");
        assert_eq!(
            v.take_damage_reports(),
            vec!["the stored entry `session` was damaged: it was removed".to_owned()],
            "reported for the app to show: {damaged:?}"
        );
        assert!(v.take_damage_reports().is_empty(), "once");
    }
    // clear still works (logout must never be blocked by a damaged entry).
    v.set_raw(INDEX, "garbage").unwrap();
    v.clear().unwrap();
    assert_eq!(v.load().unwrap(), VaultSnapshot::default());
}

#[test]
fn writing_over_a_hostile_head_does_not_walk_its_claimed_parts() {
    let (v, store) = vault();
    v.set_raw(SESSION, "stepup1 00000001 1000000000000\nx")
        .unwrap();
    let started = std::time::Instant::now();
    v.put_session(&session()).unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(v.load().unwrap().session, Some(session()));
    let left = entries(&store);
    assert!(
        left.len() <= layout::MAX_PARTS && left.iter().all(|(user, _)| user.starts_with("session")),
        "{left:?}"
    );
}

#[test]
fn a_token_under_another_name_and_an_overlong_index_are_removed() {
    let (v, _) = vault();
    let t = token(&[TokenScope::WalletExport], 3_000);
    v.put_token(&t).unwrap();
    // The wallet:export token's JSON under the credential:link record's name.
    let other = token(&[TokenScope::CredentialLink], 3_000).scope_key();
    let json = serde_json::to_string(&t).unwrap();
    v.write_record(&layout::token_record(&other), &json)
        .unwrap();
    let mut index = Index::empty();
    index.insert(&t.scope_key());
    index.insert(&other);
    v.write_json(INDEX, &index).unwrap();
    let loaded = v.load().unwrap();
    assert_eq!(loaded.tokens, vec![t.clone()]);
    assert_eq!(v.get_raw(&layout::token_record(&other)).unwrap(), None);

    let mut huge = Index::empty();
    for i in 0..=MAX_INDEXED_TOKENS {
        huge.insert(&format!("scope-{i}"));
    }
    v.write_json(INDEX, &huge).unwrap();
    assert!(v.load().unwrap().tokens.is_empty(), "not walked");
    assert_eq!(v.get_raw(INDEX).unwrap(), None, "removed");
}

#[test]
fn corrupt_messages_never_contain_the_secret() {
    let (v, _) = vault();
    v.set_raw(
        SESSION,
        "stepup1 00000001 1\n{\"token\":\"eyJ-the-secret-jwt\",",
    )
    .unwrap();
    let err = v.read_json::<SessionRecord>(SESSION).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("the-secret"), "{shown}");
}

#[test]
fn clear_removes_everything() {
    let (v, store) = vault();
    v.put_session(&session()).unwrap();
    v.put_token(&token(&[TokenScope::WalletExport], 3_000))
        .unwrap();
    v.put_device_key(&Secret::new("k")).unwrap();
    v.clear().unwrap();
    assert!(entries(&store).is_empty(), "{:?}", entries(&store));
    assert_eq!(v.load().unwrap(), VaultSnapshot::default());
}

#[test]
fn debug_shows_only_the_service() {
    let (v, _) = vault();
    v.put_device_key(&Secret::new("device-secret")).unwrap();
    let shown = format!("{v:?}");
    assert_eq!(
        shown,
        "KeychainVault { service: \"com.stepup.test/env\", .. }"
    );
}

#[test]
fn environment_names_are_checked() {
    for (app, env) in [("", "e"), ("a", ""), ("a/b", "e"), ("a", "e f"), ("a", "é")] {
        assert!(
            matches!(
                KeychainVault::open_for_environment(app, env),
                Err(VaultError::Other(_))
            ),
            "{app:?} {env:?}"
        );
    }
}

#[test]
fn type_errors_never_quote_the_stored_value() {
    let (v, _) = vault();
    v.set_raw(DEVICE_KEY, "stepup1 00000001 1\nk").unwrap();
    v.set_raw(
        SESSION,
        "stepup1 00000001 1\n{\"token\":\"t\",\"expiresAt\":\"eyJ-the-secret-jwt\",\"user\":{}}",
    )
    .unwrap();
    let err = v.read_json::<SessionRecord>(SESSION).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(matches!(err, VaultError::Corrupt(_)));
    assert!(!shown.contains("the-secret"), "{shown}");
}
