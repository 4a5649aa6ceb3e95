//! The route table against the paths the official SDK calls: every operation of
//! `@dynamic-labs-sdk/client` 1.27.1 that the sandbox serves (its `apiClient.<op>` calls,
//! mapped to `path:`/`method:` in sdk-api-core's `SDKApi.js`) reaches its handler: the answer
//! is the handler's (a result, or a refusal of its own), never the router's 404 or 405. A
//! capture such as `users/mfa/{device_id}` must not swallow a static path beside it.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

/// (method, path after `/sdk/{env}/`, SDK operation). `{wallet}` and `{device}` are filled in.
const SDK_ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "settings", "getEnvironmentSettings"),
    ("GET", "nonces?count=5", "getNonces"),
    (
        "POST",
        "emailVerifications/create",
        "createEmailVerification",
    ),
    (
        "POST",
        "emailVerifications/signin",
        "signInWithEmailVerification",
    ),
    (
        "POST",
        "emailVerifications/verify",
        "verifyEmailVerification",
    ),
    ("POST", "smsVerifications/create", "createSmsVerification"),
    (
        "POST",
        "smsVerifications/signin",
        "signInWithSmsVerification",
    ),
    ("POST", "smsVerifications/verify", "verifySmsVerification"),
    (
        "POST",
        "wallets/verify",
        "verifyWallet (signed in, with scopes)",
    ),
    ("POST", "providers/google/initAuth", "initAuth"),
    ("POST", "providers/google/verify", "oauthVerify"),
    ("POST", "refresh", "refreshAuth"),
    ("GET", "users", "getAuthenticatedUser"),
    ("POST", "stepUp/check", "stepUpCheck"),
    ("POST", "users/mfa/auth/totp", "authMfaTotpDevice"),
    ("POST", "users/mfa/auth/recovery", "authMfaRecovery"),
    (
        "POST",
        "users/mfa/auth/passkey",
        "authenticateMfaPasskeyDevice",
    ),
    (
        "GET",
        "users/passkeys/authenticate",
        "getPasskeyAuthenticationOptions",
    ),
    (
        "GET",
        "users/passkeys/register",
        "getPasskeyRegistrationOptions",
    ),
    ("POST", "users/passkeys/register", "registerPasskey"),
    ("GET", "users/mfa/register/totp", "registerTotpMfaDevice"),
    ("GET", "users/passkeys", "getUserPasskeys"),
    ("DELETE", "users/passkeys", "deletePasskey"),
    ("POST", "externalAuth/verify", "externalAuthVerify"),
    ("GET", "users/mfa", "getUserMfaDevices"),
    (
        "GET",
        "users/mfa/methods?verifiedOnly=true",
        "getUserMfaMethods",
    ),
    ("GET", "users/mfa/recovery", "getRecoveryCodes"),
    ("POST", "users/mfa/recovery", "createNewRecoveryCodes"),
    ("PUT", "users/mfa/{device}", "updateUserMfaDevice"),
    ("DELETE", "users/mfa/{device}", "deleteMfaDevice"),
    (
        "POST",
        "waas/{wallet}/privateKey/export",
        "exportPrivateKey (WaaS)",
    ),
    (
        "POST",
        "verify/unlink",
        "verifyUnlink (unlinkSocialAccount)",
    ),
    // Last: it ends the session.
    ("POST", "revoke", "revokeSession"),
];

#[tokio::test]
async fn every_path_the_sdk_calls_reaches_its_handler() {
    let h = start().await;
    let (user, mut token) = h.user(mfa_user("routes@example.com")).await;
    let device = user.totp_device_id.clone().unwrap();
    let wallet = user.wallet_id.clone().unwrap();
    for (method, path, op) in SDK_ROUTES {
        let path = path
            .replace("{device}", &device)
            .replace("{wallet}", &wallet);
        let method: Method = method.parse().unwrap();
        // The SDK sends JSON on every call (a `{}` body where it has one to send).
        let body =
            (method != Method::GET && path != format!("users/mfa/{device}")).then(|| json!({}));
        let r = h.send(method.clone(), &path, Some(&token), &[], body).await;
        assert_ne!(r.status, 405, "{op}: {method} {path}: {:?}", r.body);
        assert!(
            !(r.status == 404 && r.code() == "not_found"),
            "{op}: {method} {path} found no route: {:?}",
            r.body
        );
        assert!(
            r.body.is_null() || r.body.is_object(),
            "{op}: JSON or nothing"
        );
        // `refresh` rotates the session: go on with the new one.
        if let Some(next) = r.body["minifiedJwt"].as_str() {
            token = next.to_owned();
        }
    }
    // Nothing but the table above is shadowed: an unknown path is still the router's 404.
    let r = h.get("users/mfa/unknown/thing", Some(&token)).await;
    assert_eq!((r.status.as_u16(), r.code()), (404, "not_found"));
}

#[tokio::test]
async fn mfa_methods_and_recovery_codes_answer_with_the_api_shapes() {
    let h = start().await;
    let (user, token) = h.user(mfa_user("shapes@example.com")).await;

    let r = h
        .get("users/mfa/methods?verifiedOnly=true", Some(&token))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["userHasVerifiedMfaMethods"], true);
    assert_eq!(r.body["devices"][0]["type"], "totp");
    assert_eq!(r.body["devices"][0]["id"], json!(user.totp_device_id));
    assert_eq!(r.body["passkeys"], json!([]));
    let r = h
        .get("users/mfa/methods?verifiedOnly=maybe", Some(&token))
        .await;
    assert_eq!(r.status, 422);

    let r = h.get("users/mfa/recovery", Some(&token)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"count": 10, "recoveryCodes": []}));

    // The SDK's createNewMfaRecoveryCodes sends no body and no token: refused for the token.
    let r = h
        .send(Method::POST, "users/mfa/recovery", Some(&token), &[], None)
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (403, "step_up_required"));
    assert_eq!(r.body["payload"]["scope"], "credential:link");

    let step = h
        .totp_step_up(&token, &h.totp(&user, 0), &["credential:link"])
        .await;
    assert_eq!(step.status, 200, "{:?}", step.body);
    let (token, link) = (token_of(&step.body), elevated_of(&step.body));
    let hdr = [("x-dyn-elevated-access-token", link.as_str())];
    let r = h
        .send(Method::POST, "users/mfa/recovery", Some(&token), &hdr, None)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["count"], 10);
    let codes = r.body["recoveryCodes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let old = user.recovery_codes[0].expose();
    assert!(codes.iter().all(|c| c.as_str() != Some(old)));

    // The old codes are dead, the new ones work.
    let r = h
        .post(
            "users/mfa/auth/recovery",
            Some(&token),
            json!({ "code": old }),
        )
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (422, "mfa_invalid_code"));
    let r = h
        .post(
            "users/mfa/auth/recovery",
            Some(&token),
            json!({ "code": codes[0] }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// Every `(method, path)` the SDK 1.27.1 calls through its API client (88 operations; path
/// parameters as `x`), served by the sandbox or not.
const ALL_SDK_CALLS: &[(&str, &str)] = &[
    ("DELETE", "businessAccounts/x/members/x"),
    ("DELETE", "businessAccounts/x/wallets/x"),
    ("DELETE", "businessAccounts/x/wallets/x/signers/x"),
    ("DELETE", "deviceRegistrations"),
    ("DELETE", "deviceRegistrations/x"),
    ("DELETE", "users"),
    ("DELETE", "users/mfa/x"),
    ("DELETE", "users/passkeys"),
    ("GET", "businessAccounts"),
    ("GET", "businessAccounts/x"),
    ("GET", "chains/x/balances"),
    ("GET", "chains/x/transactions/x"),
    ("GET", "deviceRegistrations"),
    ("GET", "exchange/x/accounts"),
    ("GET", "exchange/x/accounts/transfer/destinations"),
    ("GET", "flow/x"),
    ("GET", "nonces"),
    ("GET", "oauthAccounts/x/accessToken"),
    ("GET", "onramps"),
    ("GET", "onramps/moonpay/currencies"),
    ("GET", "settings"),
    ("GET", "transactions/x"),
    ("GET", "users"),
    ("GET", "users/mfa"),
    ("GET", "users/mfa/methods"),
    ("GET", "users/mfa/recovery"),
    ("GET", "users/mfa/register/totp"),
    ("GET", "users/passkeys"),
    ("GET", "users/passkeys/authenticate"),
    ("GET", "users/passkeys/register"),
    ("GET", "users/passkeys/signin"),
    ("GET", "yield/vaults"),
    ("GET", "yield/vaults/x"),
    ("GET", "yield/vaults/x/position"),
    ("GET", "yield/vaults/x/rewards"),
    ("PATCH", "businessAccounts/x"),
    ("PATCH", "businessAccounts/x/members/x"),
    ("POST", "balances"),
    ("POST", "businessAccounts"),
    ("POST", "businessAccounts/linkWallet"),
    ("POST", "businessAccounts/x/members"),
    ("POST", "businessAccounts/x/transferOwnership"),
    ("POST", "checkouts/x/transactions"),
    ("POST", "connect"),
    ("POST", "deviceRegistration"),
    ("POST", "emailVerifications/create"),
    ("POST", "emailVerifications/signin"),
    ("POST", "emailVerifications/verify"),
    ("POST", "exchange/x/accounts/x/transfer"),
    ("POST", "externalAuth/signin"),
    ("POST", "externalAuth/verify"),
    ("POST", "flow/x/broadcast"),
    ("POST", "flow/x/cancel"),
    ("POST", "flow/x/prepare"),
    ("POST", "flow/x/quote"),
    ("POST", "flow/x/source"),
    ("POST", "onramps/coinbase/buy"),
    ("POST", "onramps/coinbase/orders"),
    ("POST", "onramps/cryptoDotCom/payment"),
    ("POST", "providers/x/initAuth"),
    ("POST", "providers/x/signIn"),
    ("POST", "providers/x/verify"),
    ("POST", "refresh"),
    ("POST", "revoke"),
    ("POST", "smsVerifications/create"),
    ("POST", "smsVerifications/signin"),
    ("POST", "smsVerifications/verify"),
    ("POST", "stepUp/check"),
    ("POST", "swap/quote"),
    ("POST", "swap/status"),
    ("POST", "transactions/x/broadcast"),
    ("POST", "transactions/x/cancel"),
    ("POST", "transactions/x/prepare"),
    ("POST", "transactions/x/quote"),
    ("POST", "transactions/x/source"),
    ("POST", "users/merge"),
    ("POST", "users/mfa/auth/passkey"),
    ("POST", "users/mfa/auth/recovery"),
    ("POST", "users/mfa/auth/totp"),
    ("POST", "users/mfa/recovery"),
    ("POST", "users/passkeys/register"),
    ("POST", "users/passkeys/signin"),
    ("POST", "verify/merge"),
    ("POST", "verify/unlink"),
    ("POST", "waas/x/transactions/broadcast"),
    ("PUT", "users"),
    ("PUT", "users/mfa/x"),
    ("PUT", "users/wallets/selection"),
];

/// A path the sandbox does not serve is its 404 `not_found`; none is answered 405 by a route
/// that captured it (a parameter route such as `users/mfa/{device_id}`).
#[tokio::test]
async fn no_path_the_sdk_calls_is_captured_by_another_route() {
    let h = start().await;
    let (_user, token) = h.user(mfa_user("all-routes@example.com")).await;
    assert_eq!(ALL_SDK_CALLS.len(), 88);
    for (method, path) in ALL_SDK_CALLS {
        if *path == "revoke" || *path == "refresh" {
            continue; // they end or rotate the session; covered above
        }
        let method: Method = method.parse().unwrap();
        let body = (method != Method::GET).then(|| json!({}));
        let r = h.send(method.clone(), path, Some(&token), &[], body).await;
        // `users` is served (GET: getAuthenticatedUser); the SDK's updateSelf (PUT) and
        // hardDeleteUser (DELETE) are not, and 405 says so for that path itself.
        let unserved_method_of_a_served_path =
            *path == "users" && (method == Method::PUT || method == Method::DELETE);
        assert!(
            r.status != 405 || unserved_method_of_a_served_path,
            "{method} {path} was captured: {:?}",
            r.body
        );
        assert!(r.body.is_null() || r.body.is_object(), "{method} {path}");
    }
}
