//! `stepup-sandbox`: runs the sandbox authority standalone.
//!
//! ```text
//! stepup-sandbox [--listen 127.0.0.1:8787] [--state ./sandbox-state.json] [--env <uuid>] [--seed-demo]
//!                [--no-state] [--external-auth-jwks FILE] [--external-auth-iss ISS]
//!                [--external-auth-aud AUD] [--customer-backend] [--disable-method NAME]...
//! ```
//! `--external-auth-iss` / `--external-auth-aud`: the `iss` and `aud` every assertion must
//! carry (the settings' `security.externalAuth`). `--customer-backend`: the sandbox also plays
//! the customer's backend of the demo, with a key of its own (instead of a JWKS file): `POST
//! /api/v0/sandbox/{env}/customer/assertion {email, scope}` answers a step-up link carrying an
//! assertion it signed.
//! `--disable-method` turns a verification method off for the environment (repeatable):
//! `totp`, `passkey`, `recovery-codes`, `email`, `sms`, `wallet`, `google`, `github`. The
//! settings say it is off and its step-up verifications are refused.
//! `--external-auth-jwks` names the JWKS of the customer's external-auth key (its first EC
//! P-256 signing key): what `externalAuth/verify` and `externalAuth/signin` verify assertions
//! against. Without it both refuse every assertion ("not configured").
//! Delivered email/SMS codes are printed to stderr: that is the standalone sandbox's delivery
//! channel.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use stepup_sandbox::{Sandbox, SandboxConfig};

const USAGE: &str = "usage: stepup-sandbox [--listen 127.0.0.1:8787] [--state ./sandbox-state.json] [--env <uuid>] [--seed-demo] [--no-state] [--external-auth-jwks FILE] [--external-auth-iss ISS] [--external-auth-aud AUD] [--customer-backend] [--disable-method NAME]...";

/// The parsed command line.
struct Args {
    listen: SocketAddr,
    state: Option<PathBuf>,
    env: Option<String>,
    seed_demo: bool,
    /// The customer's key for external-auth assertions, from `--external-auth-jwks`.
    external_auth_key: Option<p256::ecdsa::VerifyingKey>,
    /// The `kid` of that key, if the JWKS gave one.
    external_auth_kid: Option<String>,
    external_auth_issuer: Option<String>,
    external_auth_audience: Option<String>,
    customer_backend: bool,
    /// `--disable-method`, each.
    disabled_methods: std::collections::BTreeSet<String>,
}

/// A JWKS file, refused above 64 KiB before it is read whole.
fn read_bounded(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut text = String::new();
    file.take(64 * 1024 + 1)
        .read_to_string(&mut text)
        .map_err(|e| e.to_string())?;
    if text.len() > 64 * 1024 {
        return Err("larger than 64 KiB".into());
    }
    Ok(text)
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
        state: Some(PathBuf::from("./sandbox-state.json")),
        env: None,
        seed_demo: false,
        external_auth_key: None,
        external_auth_kid: None,
        external_auth_issuer: None,
        external_auth_audience: None,
        customer_backend: false,
        disabled_methods: Default::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                args.listen = v
                    .parse()
                    .map_err(|_| format!("--listen {v:?} is not an address like 127.0.0.1:8787"))?;
            }
            "--state" => args.state = Some(PathBuf::from(value("--state")?)),
            "--no-state" => args.state = None,
            "--env" => args.env = Some(value("--env")?),
            "--seed-demo" => args.seed_demo = true,
            "--external-auth-jwks" => {
                let path = PathBuf::from(value("--external-auth-jwks")?);
                let text = read_bounded(&path)
                    .map_err(|e| format!("--external-auth-jwks {}: {e}", path.display()))?;
                let key = stepup_sandbox::protocol_jwks::es256_keys(&text)
                    .map_err(|e| format!("--external-auth-jwks {}: {e}", path.display()))?
                    .into_iter()
                    .next()
                    .ok_or_else(|| format!("--external-auth-jwks {}: no key", path.display()))?;
                args.external_auth_key = Some(key.key);
                args.external_auth_kid = key.kid;
            }
            "--external-auth-iss" => {
                args.external_auth_issuer = Some(value("--external-auth-iss")?)
            }
            "--external-auth-aud" => {
                args.external_auth_audience = Some(value("--external-auth-aud")?)
            }
            "--customer-backend" => args.customer_backend = true,
            "--disable-method" => {
                let name = value("--disable-method")?;
                if !stepup_sandbox::SWITCHABLE_METHODS.contains(&name.as_str()) {
                    return Err(format!(
                        "--disable-method {name:?}: not a method that can be turned off (one of {})",
                        stepup_sandbox::SWITCHABLE_METHODS.join(", ")
                    ));
                }
                args.disabled_methods.insert(name);
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut config = SandboxConfig {
        state_path: args.state,
        print_codes: true,
        seed_demo: args.seed_demo,
        external_auth_key: args.external_auth_key,
        external_auth_kid: args.external_auth_kid,
        external_auth_issuer: args.external_auth_issuer,
        external_auth_audience: args.external_auth_audience,
        customer_backend: args.customer_backend,
        disabled_methods: args.disabled_methods,
        ..SandboxConfig::default()
    };
    if let Some(env) = args.env {
        config.environment_id = env;
    }
    let sandbox = match Sandbox::start(config, args.listen).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("stepup-sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("Stepup sandbox listening");
    println!("  base URL:       {}", sandbox.base_url());
    println!("  environment id: {}", sandbox.environment_id());
    if let Some(demo) = sandbox.demo() {
        // The demo user's secrets are printed on purpose: they are how a newcomer acts as the user.
        println!("Demo user");
        println!("  email:          {}", demo.email);
        if let Some((cc, iso, number)) = &demo.phone {
            println!("  phone:          +{cc} {number} ({iso})");
        }
        if let Some(secret) = &demo.totp_secret_base32 {
            println!("  TOTP secret:    {}", secret.expose());
        }
        if demo.recovery_codes.is_empty() {
            println!("  recovery codes: (shown only when the demo user is created)");
        } else {
            let codes: Vec<&str> = demo.recovery_codes.iter().map(|c| c.expose()).collect();
            println!("  recovery codes: {}", codes.join(" "));
        }
        if let Some(wallet) = &demo.wallet_id {
            println!("  wallet id:      {wallet}");
        }
        for account in &demo.social_accounts {
            println!(
                "  {:<15} {} (Allow it on the sandbox's {} page)",
                format!("{}:", account.provider),
                account.username,
                account.provider
            );
        }
        println!(
            "  outbox / demo:  {}/sandbox/{}/outbox  /demo",
            sandbox.base_url(),
            sandbox.environment_id()
        );
    }
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("stepup-sandbox: cannot wait for Ctrl-C: {e}");
    }
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}
