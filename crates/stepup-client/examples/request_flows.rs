//! Our side of the request-diff test (conformance/js-sdk/request-diff.mjs): drives the flows
//! the official SDK drives there, through the test's recording proxy, announcing each flow with
//! `POST {proxy}/__flow/{name}` (the proxy records that as the flow's start and forwards
//! nothing of it). The demo's codes come from the sandbox's `/sandbox/{env}/…` views, which
//! the proxy forwards unrecorded. Nothing is printed: no code, token or key.
//!
//! ```sh
//! cargo run -p stepup-client --example request_flows -- --proxy http://127.0.0.1:PORT --env ENV \
//!   --external-jwt FILE
//! ```
use std::sync::Arc;

use serde_json::Value;
use stepup_client::passkey::{entered_pin, DevicePasskey, MemoryPasskeyStore, PasskeyConfirmation};
use stepup_client::{
    Config, LocalKeySigner, MemoryVault, Secret, StepUpClient, TokenScope, Verification,
    WalletAccount,
};

type Res<T> = Result<T, String>;

/// The user without MFA of the email step-up (signed up by its first email code); the SDK's
/// side uses the same address (request-diff.mjs).
const NEW_USER: &str = "request-diff@example.com";

struct Run {
    proxy: String,
    env: String,
    /// A file holding the customer-signed assertion of the external-auth step-up.
    external_jwt: std::path::PathBuf,
    http: reqwest::Client,
}

impl Run {
    async fn flow(&self, name: &str) -> Res<()> {
        let r = self
            .http
            .post(format!("{}/__flow/{name}", self.proxy))
            .send()
            .await
            .map_err(|e| format!("flow {name}: {e}"))?;
        r.error_for_status().map(drop).map_err(|e| e.to_string())
    }

    async fn view(&self, what: &str) -> Res<Value> {
        let url = format!("{}/api/v0/sandbox/{}/{what}", self.proxy, self.env);
        let r = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        r.json().await.map_err(|e| e.to_string())
    }

    /// The code the sandbox delivered for this verification.
    async fn delivered(&self, verification_uuid: &str) -> Res<Secret> {
        let outbox = self.view("outbox").await?;
        let code = outbox
            .as_array()
            .and_then(|msgs| {
                msgs.iter()
                    .rev()
                    .find(|m| m["verificationUUID"] == verification_uuid)
            })
            .and_then(|m| m["code"].as_str())
            .ok_or("no delivered code")?;
        Ok(Secret::new(code.to_owned()))
    }

    async fn demo_str(&self, key: &str) -> Res<String> {
        let demo = self.view("demo").await?;
        let v = match key {
            "recovery" => &demo["recoveryCodes"][0],
            k => &demo[k],
        };
        v.as_str()
            .map(str::to_owned)
            .ok_or(format!("the demo has no {key}"))
    }
}

async fn flows(run: &Run) -> Res<()> {
    let base = format!("{}/api/v0", run.proxy)
        .parse()
        .map_err(|e| format!("{e}"))?;
    let config = Config::new(run.env.clone())
        .map_err(|e| e.to_string())?
        .with_api_base_url(base)
        // The origin the sandbox accepts in a passkey's clientDataJSON (and the SDK side's).
        .with_app_origin("https://app.stepup.example");
    let client = StepUpClient::new(config, Arc::new(MemoryVault::new()))
        .await
        .map_err(|e| e.to_string())?;
    let e = |what: &'static str| move |err: stepup_client::StepUpError| format!("{what}: {err}");

    // What the SDK reads when it initialises: the environment's settings.
    run.flow("start").await?;
    client.settings().await.map_err(e("settings"))?;
    run.flow("end").await?;

    run.flow("sign-in").await?;
    let email = run.demo_str("email").await?;
    let otp = client.send_email_otp(&email).await.map_err(e("send"))?;
    let code = run.delivered(&otp.verification_uuid).await?;
    client
        .sign_in_with_email_otp(&otp, code)
        .await
        .map_err(e("sign in"))?;

    run.flow("check").await?;
    let check = client.check_step_up(TokenScope::WalletExport).await;
    if !check.is_required {
        return Err("the check should require a step-up".into());
    }

    run.flow("verify-wallet").await?;
    // The demo's external wallet, signed with its key (as the SDK side's EIP-1193 wallet).
    let signer = LocalKeySigner::from_hex(&Secret::new(
        run.demo_str("externalWalletPrivateKey").await?,
    ))
    .map_err(e("wallet key"))?;
    let wallet =
        WalletAccount::browser_extension(run.demo_str("externalWalletAddress").await?, "MetaMask");
    client
        .verify_wallet(&wallet, &[TokenScope::WalletExport], &signer)
        .await
        .map_err(e("wallet step-up"))?;

    run.flow("verify-totp").await?;
    let code = Secret::new(run.demo_str("totpCode").await?);
    let totp = Verification::Totp {
        device_id: None,
        code,
    };
    client
        .verify(totp, &[TokenScope::WalletExport])
        .await
        .map_err(e("totp"))?;

    run.flow("verify-recovery").await?;
    let code = Secret::new(run.demo_str("recovery").await?);
    client
        .verify(
            Verification::RecoveryCode { code },
            &[TokenScope::CredentialUnlink],
        )
        .await
        .map_err(e("recovery"))?;

    // Between flows (unrecorded): a credential:link token from the next recovery code.
    run.flow("end").await?;
    let code = Secret::new(run.demo_str("recovery").await?);
    client
        .verify(
            Verification::RecoveryCode { code },
            &[TokenScope::CredentialLink],
        )
        .await
        .map_err(e("recovery for credential:link"))?;

    run.flow("register-passkey").await?;
    let store = Arc::new(MemoryPasskeyStore::new());
    // The device passkey (a CTAP2 soft token), its state sealed under a throw-away PIN.
    let pin = entered_pin(Secret::new("request diff".to_owned()));
    let confirmation = PasskeyConfirmation::new(Arc::new(DevicePasskey::new(store)), pin);
    client
        .register_account_passkey(confirmation.clone())
        .await
        .map_err(e("register passkey"))?;

    run.flow("verify-passkey").await?;
    client
        .authenticate_passkey_mfa(&[TokenScope::WalletExport], confirmation)
        .await
        .map_err(e("passkey step-up"))?;

    run.flow("verify-external").await?;
    // The customer-signed assertion request-diff.mjs wrote (for wallet:sign, this user).
    let jwt = std::fs::read_to_string(&run.external_jwt).map_err(|e| format!("assertion: {e}"))?;
    let jwt = Secret::new(jwt.trim().to_owned());
    client
        .verify(Verification::ExternalJwt { jwt }, &[TokenScope::WalletSign])
        .await
        .map_err(e("external auth"))?;

    // Between flows (unrecorded): which device to delete.
    run.flow("end").await?;
    let devices = client.mfa_devices().await.map_err(e("devices"))?;
    let id = devices
        .iter()
        .find(|d| d.kind.as_deref() == Some("totp"))
        .and_then(|d| d.id.clone())
        .ok_or("no TOTP device")?;
    run.flow("delete-mfa-device").await?;
    client.delete_mfa_device(&id).await.map_err(e("delete"))?;

    // Between flows (unrecorded): out, and in as a new user without MFA (signed up by email).
    run.flow("end").await?;
    client.logout().await.map_err(e("logout"))?;
    let otp = client.send_email_otp(NEW_USER).await.map_err(e("send"))?;
    let code = run.delivered(&otp.verification_uuid).await?;
    client
        .sign_in_with_email_otp(&otp, code)
        .await
        .map_err(e("sign up"))?;

    run.flow("verify-email").await?;
    let otp = client.send_email_otp(NEW_USER).await.map_err(e("send"))?;
    let code = run.delivered(&otp.verification_uuid).await?;
    let email = Verification::EmailOtp {
        verification: otp,
        code,
    };
    client
        .verify(email, &[TokenScope::CredentialUnlink])
        .await
        .map_err(e("email step-up"))?;
    run.flow("end").await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut proxy, mut env, mut jwt) = (None, None, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--proxy" => proxy = args.next(),
            "--env" => env = args.next(),
            "--external-jwt" => jwt = args.next(),
            _ => {}
        }
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let (Some(proxy), Some(env), Some(jwt)) = (proxy, env, jwt) else {
        tracing::error!("usage: request_flows --proxy URL --env ENV --external-jwt FILE");
        return std::process::ExitCode::FAILURE;
    };
    let run = Run {
        proxy,
        env,
        external_jwt: jwt.into(),
        http: reqwest::Client::new(),
    };
    match flows(&run).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("request flows failed: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}
