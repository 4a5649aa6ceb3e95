//! `cargo xtask bench` (and its short version in `cargo xtask test`): our client and Dynamic's
//! official JS SDK (1.27.1, in node, telemetry off, non-loopback `fetch` refused) side by side,
//! against **one** sandbox (this release build, started once on its own runtime, real clock,
//! loopback), interleaved A B A B in rounds:
//!
//! 1. the check with a valid stored token (no request): `check_step_up` vs `checkStepUpAuth`,
//!    and the token-present test: `has_elevated_access_token` vs
//!    `getElevatedAccessToken({consume:false})`; ≥100 k calls a round, our client on the clock
//!    the app uses ([`SystemClock`]); plus the clock read itself;
//! 2. the server check without a token (a loopback POST);
//! 3. the full step-up: check → TOTP verify → `GET users/mfa/register/totp` with the
//!    `credential:link` token attached. Every step-up is a fresh user signed in beforehand
//!    (untimed), so that TOTP replay protection is not what is measured; ours with the
//!    in-memory vault and with the real keychain (the Secret Service of `with-keyring.sh`);
//! 4. Secret Service calls per step-up, counted by `dbus-monitor` on the private bus between
//!    two marker calls (credential:link, and wallet:export whose token is single-use);
//!    and the app's figures (binary size, idle PSS, link → dialog) when `--app-json` names
//!    what `tests/e2e/bench.sh` measured.
//!
//! One table (min / median / max per side, ratio of medians) on stdout and in `--out` (JSON);
//! `--readme` rewrites the README's table; `--floors` fails the run when a figure is past its
//! floor (`xtask/bench-floors.json`).
//!
//! ```sh
//! dbus-run-session -- crates/stepup-keychain/with-keyring.sh \
//!   cargo bench -p stepup-keychain --bench side_by_side -- --quick --floors xtask/bench-floors.json
//! ```

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use stepup_client::vault::TokenVault;
use stepup_client::{
    Clock, Config, MemoryVault, Secret, StepUpClient, SystemClock, TokenScope, Verification,
};
use stepup_keychain::KeychainVault;
use stepup_sandbox::{
    DemoUser, RunningSandbox, Sandbox, SandboxConfig, UserSpec, VerificationLimits,
};

/// How much to measure.
#[derive(Debug, Clone)]
struct Plan {
    rounds: usize,
    fast_calls: usize,
    server_calls: usize,
    step_ups: usize,
    counted_step_ups: usize,
    clock_calls: usize,
}

impl Plan {
    fn full() -> Self {
        Self {
            rounds: 7,
            fast_calls: 200_000,
            server_calls: 60,
            step_ups: 8,
            counted_step_ups: 3,
            clock_calls: 1_000_000,
        }
    }
    fn quick() -> Self {
        Self {
            rounds: 5,
            fast_calls: 100_000,
            server_calls: 20,
            step_ups: 3,
            counted_step_ups: 2,
            clock_calls: 200_000,
        }
    }
}

#[derive(Debug, Default)]
struct Args {
    quick: bool,
    out: Option<PathBuf>,
    app_json: Option<PathBuf>,
    floors: Option<PathBuf>,
    readme: Option<PathBuf>,
    node_dir: Option<PathBuf>,
    commit: Option<String>,
    /// `--profile memory|keychain N`: only N of our full step-ups, for `perf record`.
    profile: Option<(String, usize)>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut path = |name: &str| {
            it.next()
                .map(PathBuf::from)
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--quick" => args.quick = true,
            "--full" => args.quick = false,
            "--out" => args.out = Some(path("--out")?),
            "--app-json" => args.app_json = Some(path("--app-json")?),
            "--floors" => args.floors = Some(path("--floors")?),
            "--readme" => args.readme = Some(path("--readme")?),
            "--node-dir" => args.node_dir = Some(path("--node-dir")?),
            "--commit" => args.commit = Some(path("--commit")?.display().to_string()),
            "--profile" => {
                let which = path("--profile")?.display().to_string();
                let n = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .ok_or("--profile needs memory|keychain and a count")?;
                args.profile = Some((which, n));
            }
            // `cargo bench` passes `--bench`.
            "--bench" => {}
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    // The sandbox logs every request at info: only warnings from it.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn,side_by_side=info"))
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    match parse_args().and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

// ----- statistics ----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Stats {
    min: f64,
    median: f64,
    max: f64,
    n: usize,
}

fn stats(samples: &[f64]) -> Stats {
    let mut s: Vec<f64> = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let median = if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    Stats {
        min: s.first().copied().unwrap_or(f64::NAN),
        median,
        max: s.last().copied().unwrap_or(f64::NAN),
        n,
    }
}

/// One row of the table: a figure measured on one or both sides.
#[derive(Debug, Clone)]
struct Figure {
    id: &'static str,
    label: String,
    unit: &'static str,
    sdk: Vec<f64>,
    ours: Vec<f64>,
}

impl Figure {
    fn new(id: &'static str, label: &str, unit: &'static str) -> Self {
        Self {
            id,
            label: label.to_owned(),
            unit,
            sdk: Vec::new(),
            ours: Vec::new(),
        }
    }
    /// SDK median / ours median: how many times faster we are (higher is better).
    fn ratio(&self) -> Option<f64> {
        if self.sdk.is_empty() || self.ours.is_empty() {
            return None;
        }
        Some(stats(&self.sdk).median / stats(&self.ours).median)
    }
    fn json(&self) -> Value {
        let side = |v: &[f64]| {
            if v.is_empty() {
                return Value::Null;
            }
            let s = stats(v);
            json!({"min": s.min, "median": s.median, "max": s.max, "n": s.n, "samples": v})
        };
        json!({
            "id": self.id, "label": self.label, "unit": self.unit,
            "sdk": side(&self.sdk), "ours": side(&self.ours), "ratio_of_medians": self.ratio(),
        })
    }
}

fn fmt_num(x: f64) -> String {
    if x.is_nan() {
        "–".into()
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn fmt_side(v: &[f64]) -> String {
    if v.is_empty() {
        return "–".into();
    }
    let s = stats(v);
    if s.min == s.max {
        return fmt_num(s.median);
    }
    format!(
        "{} / **{}** / {}",
        fmt_num(s.min),
        fmt_num(s.median),
        fmt_num(s.max)
    )
}

fn table(figures: &[Figure]) -> String {
    let mut t = String::from(
        "| figure | unit | SDK min / **median** / max | ours min / **median** / max | SDK ÷ ours (medians) |\n|---|---|---|---|---|\n",
    );
    for f in figures {
        let ratio = f
            .ratio()
            .map(|r| format!("{r:.2}×"))
            .unwrap_or_else(|| "–".into());
        t.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            f.label,
            f.unit,
            fmt_side(&f.sdk),
            fmt_side(&f.ours),
            ratio
        ));
    }
    t
}

// ----- the SDK in node -----------------------------------------------------------------------

/// One node process running `conformance/js-sdk/bench.mjs` with its own SDK client.
struct Node {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Node {
    fn start(dir: &Path, env: &str, api: &str) -> Result<Self, String> {
        let mut child = Command::new("node")
            .arg("bench.mjs")
            .current_dir(dir)
            .env("STEPUP_BENCH_ENV", env)
            .env("STEPUP_BENCH_API", api)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start node: {e}"))?;
        let stdin = child.stdin.take().ok_or("node: no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("node: no stdout")?);
        let mut node = Self {
            child,
            stdin,
            stdout,
        };
        let hello = node.read()?;
        if hello.get("ready") != Some(&Value::Bool(true)) {
            return Err(format!("node did not start: {hello}"));
        }
        Ok(node)
    }

    fn read(&mut self) -> Result<Value, String> {
        let mut line = String::new();
        // Bounded: a runaway child cannot make us buffer without end.
        let n = (&mut self.stdout)
            .take(16 * 1024 * 1024)
            .read_line(&mut line)
            .map_err(|e| format!("node: {e}"))?;
        if n == 0 {
            return Err("node exited".into());
        }
        serde_json::from_str(&line).map_err(|e| format!("node sent garbage: {e}"))
    }

    fn call(&mut self, cmd: Value) -> Result<Value, String> {
        writeln!(self.stdin, "{cmd}").map_err(|e| format!("node: {e}"))?;
        let answer = self.read()?;
        if answer.get("refused").and_then(Value::as_u64).unwrap_or(0) > 0 {
            return Err("the SDK tried to reach a host beyond this machine".into());
        }
        match answer.get("error") {
            Some(e) => Err(format!("SDK: {e}")),
            None => Ok(answer),
        }
    }

    fn quit(mut self) -> Result<(), String> {
        writeln!(self.stdin, "{}", json!({"op": "quit"})).map_err(|e| e.to_string())?;
        let bye = self.read()?;
        let _ = self.child.wait();
        if bye.get("refused").and_then(Value::as_u64).unwrap_or(1) != 0 {
            return Err(format!("loopback guard: {bye}"));
        }
        Ok(())
    }
}

fn num(v: &Value, key: &str) -> Result<f64, String> {
    v.get(key)
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("no {key} in {v}"))
}

// ----- Secret Service calls on the private bus -----------------------------------------------

/// `dbus-monitor` on the session bus, watching method calls to `org.freedesktop.secrets`.
struct BusCounter {
    child: Child,
    lines: Receiver<String>,
    next_marker: u64,
}

const MARKER_PREFIX: &str = "/stepup/bench/marker/";

impl BusCounter {
    fn start() -> Result<Self, String> {
        let mut child = Command::new("dbus-monitor")
            .args([
                "--session",
                "--profile",
                "type='method_call',destination='org.freedesktop.secrets'",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start dbus-monitor: {e}"))?;
        let stdout = child.stdout.take().ok_or("dbus-monitor: no stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut counter = Self {
            child,
            lines,
            next_marker: 0,
        };
        // The monitor is attached once it sees a marker.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let m = counter.mark()?;
            if counter.wait_for(m, Duration::from_millis(300)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                return Err("dbus-monitor saw no marker".into());
            }
        }
        Ok(counter)
    }

    /// Sends a marker call (a `Peer.Ping` to the Secret Service on a path of ours).
    fn mark(&mut self) -> Result<u64, String> {
        self.next_marker += 1;
        let id = self.next_marker;
        Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.secrets",
                &format!("{MARKER_PREFIX}{id}"),
                "org.freedesktop.DBus.Peer.Ping",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("dbus-send: {e}"))?;
        Ok(id)
    }

    /// The calls seen before marker `id` (since the previous marker), as `interface.member`.
    fn wait_for(&mut self, id: u64, timeout: Duration) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + timeout;
        let mut calls = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .map_err(|_| format!("marker {id} not seen"))?;
            // --profile: type time serial sender destination path interface member
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 8 || f[0] != "mc" {
                continue;
            }
            if let Some(seen) = f[5].strip_prefix(MARKER_PREFIX) {
                if seen == id.to_string() {
                    return Ok(calls);
                }
                calls.clear();
                continue;
            }
            calls.push(format!("{}.{}", f[6], f[7]));
        }
    }

    /// Runs `f` between two markers; the Secret Service calls it made.
    fn count<T>(&mut self, f: impl FnOnce() -> T) -> Result<(T, Vec<String>), String> {
        let start = self.mark()?;
        self.wait_for(start, Duration::from_secs(10))?;
        let out = f();
        let end = self.mark()?;
        Ok((out, self.wait_for(end, Duration::from_secs(10))?))
    }
}

impl Drop for BusCounter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ----- our side --------------------------------------------------------------------------------

struct Ours {
    rt: tokio::runtime::Runtime,
    config: Config,
}

impl Ours {
    fn client(&self, vault: Arc<dyn TokenVault>) -> Result<StepUpClient, String> {
        // The clock the app uses: the builder's default, `SystemClock`.
        self.rt
            .block_on(
                StepUpClient::builder(self.config.clone())
                    .vault(vault)
                    .build(),
            )
            .map_err(|e| format!("client: {e}"))
    }

    fn sign_in(
        &self,
        client: &StepUpClient,
        sandbox: &RunningSandbox,
        email: &str,
    ) -> Result<(), String> {
        self.rt.block_on(async {
            let sent = client
                .send_email_otp(email)
                .await
                .map_err(|e| format!("send: {e}"))?;
            let code = sandbox
                .outbox()
                .into_iter()
                .rev()
                .find(|m| m.verification_uuid == sent.verification_uuid)
                .ok_or("no code in the outbox")?
                .code;
            client
                .sign_in_with_email_otp(&sent, code)
                .await
                .map_err(|e| format!("sign in: {e}"))?;
            Ok(())
        })
    }

    fn logout(&self, client: &StepUpClient) -> Result<(), String> {
        self.rt
            .block_on(client.logout())
            .map_err(|e| format!("logout: {e}"))
    }

    /// check → TOTP verify → the scoped call; nanoseconds.
    fn full_step_up(&self, client: &StepUpClient, code: Secret) -> Result<f64, String> {
        self.rt.block_on(async {
            let t0 = Instant::now();
            let check = client.check_step_up(TokenScope::CredentialLink).await;
            if !check.is_required {
                return Err("a token was already there".to_owned());
            }
            client
                .verify(
                    Verification::Totp {
                        device_id: None,
                        code,
                    },
                    &[TokenScope::CredentialLink],
                )
                .await
                .map_err(|e| format!("verify: {e}"))?;
            let reg = client
                .register_totp_device()
                .await
                .map_err(|e| format!("register: {e}"))?;
            let ns = t0.elapsed().as_nanos() as f64;
            if reg.id.is_empty() {
                return Err("registration without an id".into());
            }
            Ok(ns)
        })
    }

    /// check → TOTP verify for wallet:export → the export (a single-use token).
    fn export_step_up(
        &self,
        client: &StepUpClient,
        code: Secret,
        wallet_id: &str,
    ) -> Result<(), String> {
        self.rt.block_on(async {
            let check = client.check_step_up(TokenScope::WalletExport).await;
            if !check.is_required {
                return Err("a token was already there".to_owned());
            }
            client
                .verify(
                    Verification::Totp {
                        device_id: None,
                        code,
                    },
                    &[TokenScope::WalletExport],
                )
                .await
                .map_err(|e| format!("verify: {e}"))?;
            client
                .export_wallet_private_key(wallet_id)
                .await
                .map_err(|e| format!("export: {e}"))?;
            Ok(())
        })
    }
}

/// Seeded users, each used for one step-up (a fresh TOTP step).
struct Users {
    users: Vec<DemoUser>,
    next: usize,
}

impl Users {
    fn take(&mut self) -> Result<DemoUser, String> {
        let u = self.users.get(self.next).cloned().ok_or("out of users")?;
        self.next += 1;
        Ok(u)
    }
}

fn totp(sandbox: &RunningSandbox, user: &DemoUser) -> Result<Secret, String> {
    let secret = user.totp_secret_base32.as_ref().ok_or("no TOTP")?;
    sandbox
        .totp_code(secret.expose())
        .map(Secret::new)
        .ok_or_else(|| "no TOTP code".into())
}

/// Nanoseconds a call of `f`, over `calls` calls (the result is kept alive).
fn ns_per_call<T>(calls: usize, mut f: impl FnMut() -> T) -> f64 {
    let t0 = Instant::now();
    for _ in 0..calls {
        std::hint::black_box(f());
    }
    t0.elapsed().as_nanos() as f64 / calls as f64
}

// ----- the run -----------------------------------------------------------------------------------

fn run(args: Args) -> Result<(), String> {
    let plan = if args.quick {
        Plan::quick()
    } else {
        Plan::full()
    };
    let started = Instant::now();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let node_dir = args
        .node_dir
        .clone()
        .unwrap_or_else(|| root.join("conformance/js-sdk"));
    let keychain = std::env::var("STEPUP_KEYCHAIN_TESTS").as_deref() == Ok("1");
    if !keychain {
        return Err("needs a private Secret Service: run inside dbus-run-session -- crates/stepup-keychain/with-keyring.sh".into());
    }
    tracing::info!(?plan, "side-by-side bench");

    // One sandbox, started once, on a runtime of its own (as the standalone binary would be).
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sandbox")
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let sandbox = server_rt
        .block_on(Sandbox::start(
            SandboxConfig {
                // Every step-up signs a fresh user in: far more sign-ins than the default
                // limits allow from one address.
                verification_limits: VerificationLimits {
                    per_target: 1_000,
                    per_client: 100_000,
                    global: 100_000,
                    window_ms: 60_000,
                },
                ..Default::default()
            },
            SocketAddr::from(([127, 0, 0, 1], 0)),
        ))
        .map_err(|e| format!("sandbox: {e}"))?;
    let env = sandbox.environment_id().to_owned();
    let api = sandbox.base_url();
    let step_ups_needed = plan.rounds * plan.step_ups * 3
        + 3 * 2
        + plan.counted_step_ups * 2
        + 4
        + args.profile.as_ref().map_or(0, |p| p.1);
    let mut users = Users {
        users: (0..step_ups_needed)
            .map(|i| {
                sandbox
                    .create_user(UserSpec {
                        email: format!("bench-{i}@bench.stepup.example"),
                        totp: true,
                        wallet: true,
                        ..Default::default()
                    })
                    .map_err(|e| format!("user: {e}"))
            })
            .collect::<Result<_, _>>()?,
        next: 0,
    };

    let ours = Ours {
        rt: tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("client")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?,
        config: Config::new(&env)
            .map_err(|e| e.to_string())?
            .with_api_base_url(api.parse().map_err(|e| format!("url: {e}"))?),
    };
    let kc_env = format!("bench-{}", std::process::id());
    let kc_vault = Arc::new(
        KeychainVault::open_for_environment("com.stepup.bench", &kc_env)
            .map_err(|e| format!("keychain: {e}"))?,
    );
    let fast_client = ours.client(Arc::new(MemoryVault::new()))?;
    let mem_client = ours.client(Arc::new(MemoryVault::new()))?;
    let kc_client = ours.client(kc_vault.clone())?;
    if let Some((which, n)) = &args.profile {
        // Our full step-ups only, one after another: what `perf record -p` samples.
        let client = if which == "keychain" {
            &kc_client
        } else {
            &mem_client
        };
        let mut ms = Vec::new();
        let mut in_step_up = Duration::ZERO;
        let t0 = Instant::now();
        for _ in 0..*n {
            let u = users.take()?;
            ours.sign_in(client, &sandbox, &u.email)?;
            let code = totp(&sandbox, &u)?;
            let ns = ours.full_step_up(client, code)?;
            in_step_up += Duration::from_nanos(ns as u64);
            ms.push(ns / 1e6);
            ours.logout(client)?;
        }
        let s = stats(&ms);
        println!(
            "{n} {which} step-ups: min {:.2} / median {:.2} / max {:.2} ms; {:.0}% of {:.1} s in step-ups",
            s.min,
            s.median,
            s.max,
            100.0 * in_step_up.as_secs_f64() / t0.elapsed().as_secs_f64(),
            t0.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let mut sdk_fast = Node::start(&node_dir, &env, &api)?;
    let mut sdk_full = Node::start(&node_dir, &env, &api)?;

    // The fast-path users: signed in, a time-bound credential:link token stored.
    let u = users.take()?;
    ours.sign_in(&fast_client, &sandbox, &u.email)?;
    ours.rt
        .block_on(fast_client.verify(
            Verification::Totp {
                device_id: None,
                code: totp(&sandbox, &u)?,
            },
            &[TokenScope::CredentialLink],
        ))
        .map_err(|e| format!("verify: {e}"))?;
    let u = users.take()?;
    sdk_fast.call(json!({"op": "signin", "email": u.email}))?;
    sdk_fast.call(json!({"op": "stepup_only", "code": totp(&sandbox, &u)?.expose(), "scope": "credential:link"}))?;

    let mut clock_fig = Figure::new(
        "clock",
        "the fast path's clock (SDK: `new Date()`; ours: `SystemClock::is_before`, a token minutes from expiry)",
        "ns",
    );
    let mut clock_precise = Figure::new(
        "clock_realtime",
        "CLOCK_REALTIME (`SystemTime::now`, the clock before this change)",
        "ns",
    );
    let mut clock_coarse = Figure::new(
        "clock_realtime_coarse",
        "CLOCK_REALTIME_COARSE (+ resolution)",
        "ns",
    );
    let mut clock_mono = Figure::new("clock_monotonic_coarse", "CLOCK_MONOTONIC_COARSE", "ns");
    let mut coarse_lag = Figure::new(
        "coarse_lag",
        "CLOCK_REALTIME − (COARSE + resolution), worst of 200 k reads",
        "ms",
    );
    let mut check_fig = Figure::new(
        "check_token_present",
        "check with a token present (`checkStepUpAuth` / `check_step_up`)",
        "ns",
    );
    let mut peek_fig = Figure::new(
        "token_present_test",
        "token-present test (`getElevatedAccessToken({consume:false})` / `has_elevated_access_token`)",
        "ns",
    );
    let mut server_fig = Figure::new(
        "check_no_token",
        "check without a token (loopback POST stepUp/check)",
        "ms",
    );
    let mut full_mem_fig = Figure::new(
        "full_step_up_memory",
        "full step-up: check → TOTP → credential:link call (ours: in-memory vault)",
        "ms",
    );
    let mut full_kc_fig = Figure::new(
        "full_step_up_keychain",
        "full step-up, ours with the real keychain (gnome-keyring)",
        "ms",
    );

    // Warm-up: connections, JIT, the keychain's first writes.
    for _ in 0..2 {
        for c in [&mem_client, &kc_client] {
            let u = users.take()?;
            ours.sign_in(c, &sandbox, &u.email)?;
            ours.full_step_up(c, totp(&sandbox, &u)?)?;
            ours.logout(c)?;
        }
        let u = users.take()?;
        sdk_full.call(json!({"op": "signin", "email": u.email}))?;
        sdk_full.call(json!({"op": "full", "code": totp(&sandbox, &u)?.expose()}))?;
        sdk_full.call(json!({"op": "logout"}))?;
    }
    sdk_fast.call(json!({"op": "fast", "kind": "check", "scope": "credential:link", "calls": plan.fast_calls}))?;
    sdk_fast.call(
        json!({"op": "fast", "kind": "peek", "scope": "credential:link", "calls": plan.fast_calls}),
    )?;
    sdk_fast.call(json!({"op": "server_check", "scope": "wallet:export", "calls": 5}))?;
    let _ = ours
        .rt
        .block_on(fast_client.check_step_up(TokenScope::WalletExport));

    for round in 0..plan.rounds {
        tracing::info!(round, "round");
        // (1) the fast path, A B.
        let clock = SystemClock;
        let far = clock.now_millis() + 600_000;
        clock_fig
            .ours
            .push(ns_per_call(plan.clock_calls, || clock.is_before(far)));
        clock_precise
            .ours
            .push(ns_per_call(plan.clock_calls, || clock.now_millis()));
        clock_coarse.ours.push(ns_per_call(plan.clock_calls, || {
            stepup_protocol::clock::coarse::upper_bound_ms()
        }));
        #[cfg(target_os = "linux")]
        clock_mono.ours.push(ns_per_call(plan.clock_calls, || {
            rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse)
        }));
        let mut worst = f64::MIN;
        for _ in 0..200_000 {
            let precise = clock.now_millis();
            if let Some(upper) = stepup_protocol::clock::coarse::upper_bound_ms() {
                worst = worst.max((precise - upper) as f64);
            }
        }
        coarse_lag.ours.push(worst);
        clock_fig.sdk.push(num(
            &sdk_fast.call(json!({"op": "clock", "calls": plan.clock_calls}))?,
            "ns_per_call",
        )?);
        let n = plan.fast_calls;
        let ours_check = ours.rt.block_on(async {
            let t0 = Instant::now();
            let mut ok = 0usize;
            for _ in 0..n {
                if !fast_client
                    .check_step_up(TokenScope::CredentialLink)
                    .await
                    .is_required
                {
                    ok += 1;
                }
            }
            (t0.elapsed().as_nanos() as f64 / n as f64, ok)
        });
        if ours_check.1 != n {
            return Err("our fast path found no token".into());
        }
        check_fig.ours.push(ours_check.0);
        check_fig.sdk.push(num(
            &sdk_fast.call(
                json!({"op": "fast", "kind": "check", "scope": "credential:link", "calls": n}),
            )?,
            "ns_per_call",
        )?);
        peek_fig.ours.push(ns_per_call(n, || {
            fast_client.has_elevated_access_token(&TokenScope::CredentialLink)
        }));
        peek_fig.sdk.push(num(
            &sdk_fast.call(
                json!({"op": "fast", "kind": "peek", "scope": "credential:link", "calls": n}),
            )?,
            "ns_per_call",
        )?);

        // (2) the server check, A B.
        let mut ours_server = Vec::new();
        for _ in 0..plan.server_calls {
            let t0 = Instant::now();
            let check = ours
                .rt
                .block_on(fast_client.check_step_up(TokenScope::WalletExport));
            ours_server.push(t0.elapsed().as_nanos() as f64 / 1e6);
            if !check.is_required || check.credentials.is_empty() {
                return Err("our server check did not ask for a step-up".into());
            }
        }
        server_fig.ours.push(stats(&ours_server).median);
        let sdk_server = sdk_fast.call(
            json!({"op": "server_check", "scope": "wallet:export", "calls": plan.server_calls}),
        )?;
        let sdk_server: Vec<f64> = sdk_server
            .get("ns")
            .and_then(Value::as_array)
            .ok_or("no ns")?
            .iter()
            .filter_map(Value::as_f64)
            .map(|ns| ns / 1e6)
            .collect();
        server_fig.sdk.push(stats(&sdk_server).median);

        // (3) full step-ups: ours (memory), SDK, ours (keychain), each a fresh user.
        for _ in 0..plan.step_ups {
            let u = users.take()?;
            ours.sign_in(&mem_client, &sandbox, &u.email)?;
            let code = totp(&sandbox, &u)?;
            full_mem_fig
                .ours
                .push(ours.full_step_up(&mem_client, code)? / 1e6);
            ours.logout(&mem_client)?;

            let u = users.take()?;
            sdk_full.call(json!({"op": "signin", "email": u.email}))?;
            let code = totp(&sandbox, &u)?;
            let ns = num(
                &sdk_full.call(json!({"op": "full", "code": code.expose()}))?,
                "ns",
            )?;
            full_mem_fig.sdk.push(ns / 1e6);
            full_kc_fig.sdk.push(ns / 1e6);
            sdk_full.call(json!({"op": "logout"}))?;

            let u = users.take()?;
            ours.sign_in(&kc_client, &sandbox, &u.email)?;
            let code = totp(&sandbox, &u)?;
            full_kc_fig
                .ours
                .push(ours.full_step_up(&kc_client, code)? / 1e6);
            ours.logout(&kc_client)?;
        }
    }

    // (4) Secret Service calls per step-up, on the private bus.
    let mut bus = BusCounter::start()?;
    let mut link_counts = Vec::new();
    let mut export_counts = Vec::new();
    let mut calls_seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in 0..plan.counted_step_ups {
        let u = users.take()?;
        ours.sign_in(&kc_client, &sandbox, &u.email)?;
        let code = totp(&sandbox, &u)?;
        let (r, calls) = bus.count(|| ours.full_step_up(&kc_client, code))?;
        r?;
        link_counts.push(calls.len() as f64);
        calls_seen.insert(format!("credential:link #{i}"), calls);
        ours.logout(&kc_client)?;

        let u = users.take()?;
        ours.sign_in(&kc_client, &sandbox, &u.email)?;
        let code = totp(&sandbox, &u)?;
        let wallet = u.wallet_id.clone().ok_or("no wallet")?;
        let (r, calls) = bus.count(|| ours.export_step_up(&kc_client, code, &wallet))?;
        r?;
        export_counts.push(calls.len() as f64);
        calls_seen.insert(format!("wallet:export #{i}"), calls);
        ours.logout(&kc_client)?;
    }
    drop(bus);
    let mut link_fig = Figure::new(
        "secret_service_calls_credential_link",
        "Secret Service calls per credential:link step-up (check → verify → call)",
        "calls",
    );
    link_fig.ours = link_counts;
    let mut export_fig = Figure::new(
        "secret_service_calls_wallet_export",
        "Secret Service calls per wallet:export step-up (single-use token, consumed by the export)",
        "calls",
    );
    export_fig.ours = export_counts;

    sdk_fast.quit()?;
    sdk_full.quit()?;
    server_rt.block_on(sandbox.shutdown());

    let mut figures = vec![
        clock_fig,
        clock_precise,
        clock_coarse,
        clock_mono,
        coarse_lag,
        check_fig,
        peek_fig,
        server_fig,
        full_mem_fig,
        full_kc_fig,
        link_fig,
        export_fig,
    ];
    if let Some(app) = &args.app_json {
        figures.extend(app_figures(app)?);
    }
    let table = table(&figures);
    let machine = machine(&args);
    println!("\n{}\n\n{table}", machine.line);
    for (name, calls) in &calls_seen {
        println!("{name}: {} calls: {}", calls.len(), calls.join(", "));
    }
    let floors = match &args.floors {
        Some(path) => check_floors(path, &figures)?,
        None => Vec::new(),
    };
    let report = json!({
        "machine": machine.json,
        "plan": format!("{plan:?}"),
        "figures": figures.iter().map(Figure::json).collect::<Vec<_>>(),
        "secret_service_calls": calls_seen,
        "floors": floors.iter().map(|c| json!({"check": c.text, "ok": c.ok, "binding": c.binding})).collect::<Vec<_>>(),
        "table_markdown": table,
        "seconds": started.elapsed().as_secs_f64(),
    });
    if let Some(out) = &args.out {
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(
            out,
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?,
        )
        .map_err(|e| format!("{}: {e}", out.display()))?;
    }
    if let Some(readme) = &args.readme {
        write_readme(readme, &machine.line, &table)?;
    }
    println!("took {:.1} s", started.elapsed().as_secs_f64());
    for c in &floors {
        let mark = match (c.ok, c.binding) {
            (true, _) => "ok  ",
            (false, true) => "FAIL",
            (false, false) => "not yet",
        };
        println!("{mark} {}", c.text);
    }
    if floors.iter().any(|c| c.binding && !c.ok) {
        return Err("a figure is past its floor".into());
    }
    Ok(())
}

struct Machine {
    line: String,
    json: Value,
}

fn machine(args: &Args) -> Machine {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    let date = stepup_protocol::clock::iso_8601_ms(SystemClock.now_millis());
    let date = date.get(..16).unwrap_or(&date).replace('T', " ");
    let commit = args.commit.clone().unwrap_or_else(|| "?".into());
    let mode = if args.quick { "short" } else { "full" };
    Machine {
        line: format!(
            "`cargo xtask bench` ({mode}), {date} UTC, commit {commit}, {cores} cores, load {load} at the end"
        ),
        json: json!({"date": date, "commit": commit, "cores": cores, "load_1min": load, "mode": mode}),
    }
}

/// The app's figures, from `tests/e2e/bench.sh`'s JSON.
fn app_figures(path: &Path) -> Result<Vec<Figure>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let app: Value = serde_json::from_str(&text).map_err(|e| format!("app json: {e}"))?;
    let runs = |key: &str| -> Vec<f64> {
        app.get(key)
            .and_then(|v| v.get("runs"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_f64).collect())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    let mut size = Figure::new(
        "app_binary",
        "app binary as benched (release, with the embedded sandbox, stripped)",
        "MB",
    );
    if let Some(b) = app.get("binary_stripped_bytes").and_then(Value::as_f64) {
        size.ours.push(b / 1e6);
    }
    out.push(size);
    let mut pss = Figure::new(
        "app_idle_pss",
        "app idle PSS with its window (app + WebKit processes)",
        "MiB",
    );
    pss.ours = runs("idle_pss_kib").iter().map(|k| k / 1024.0).collect();
    out.push(pss);
    let mut windowless_pss = Figure::new(
        "app_idle_pss_windowless",
        "app idle PSS resident, its window closed (app + WebKit processes)",
        "MiB",
    );
    windowless_pss.ours = runs("idle_pss_windowless_kib")
        .iter()
        .map(|k| k / 1024.0)
        .collect();
    out.push(windowless_pss);
    let mut background_pss = Figure::new(
        "app_idle_pss_background",
        "app idle PSS resident from the start (`--background`, never a window)",
        "MiB",
    );
    background_pss.ours = runs("idle_pss_background_start_kib")
        .iter()
        .map(|k| k / 1024.0)
        .collect();
    out.push(background_pss);
    let mut warm = Figure::new(
        "app_link_to_dialog_running",
        "deep link → dialog ready, app running",
        "ms",
    );
    warm.ours = runs("deep_link_to_running_instance_ms");
    out.push(warm);
    let mut windowless = Figure::new(
        "app_link_to_dialog_windowless",
        "deep link → dialog ready, resident without a window",
        "ms",
    );
    windowless.ours = runs("deep_link_to_windowless_instance_ms");
    out.push(windowless);
    let mut cold = Figure::new(
        "app_link_to_dialog_cold",
        "deep link → dialog ready, cold start",
        "ms",
    );
    cold.ours = runs("deep_link_cold_start_ms");
    out.push(cold);
    Ok(out)
}

/// One floor (or goal) checked.
struct Check {
    text: String,
    ok: bool,
    /// A floor fails the run; a goal is only reported.
    binding: bool,
}

/// Checks every floor (and goal) of the file.
fn check_floors(path: &Path, figures: &[Figure]) -> Result<Vec<Check>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file: Value = serde_json::from_str(&text).map_err(|e| format!("floors: {e}"))?;
    let floors = file
        .get("floors")
        .and_then(Value::as_array)
        .ok_or("floors: no `floors` list")?;
    let mut out = Vec::new();
    for floor in floors {
        let id = floor
            .get("figure")
            .and_then(Value::as_str)
            .ok_or("floor without `figure`")?;
        let figure = figures
            .iter()
            .find(|f| f.id == id)
            .ok_or_else(|| format!("floor names an unknown figure {id}"))?;
        if let Some(min) = floor.get("min_ratio").and_then(Value::as_f64) {
            let ratio = figure.ratio().ok_or_else(|| format!("{id}: no ratio"))?;
            out.push(Check {
                text: format!("floor {id}: SDK ÷ ours = {ratio:.2}× (floor {min}×)"),
                ok: ratio >= min,
                binding: true,
            });
            if let Some(goal) = floor.get("goal").and_then(Value::as_f64) {
                out.push(Check {
                    text: format!("goal  {id}: SDK ÷ ours = {ratio:.2}× (goal {goal}×)"),
                    ok: ratio >= goal,
                    binding: false,
                });
            }
        }
        if let Some(max) = floor.get("max_count").and_then(Value::as_f64) {
            let worst = figure.ours.iter().copied().fold(f64::NAN, f64::max);
            out.push(Check {
                text: format!(
                    "floor {id}: at most {worst} in {} counted step-ups (floor ≤ {max})",
                    figure.ours.len()
                ),
                ok: !figure.ours.is_empty() && worst <= max,
                binding: true,
            });
        }
    }
    Ok(out)
}

const README_START: &str = "<!-- bench:start -->";
const README_END: &str = "<!-- bench:end -->";

/// Replaces the README's table between its markers.
fn write_readme(path: &Path, line: &str, table: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (Some(a), Some(b)) = (text.find(README_START), text.find(README_END)) else {
        return Err(format!(
            "{}: no {README_START} … {README_END} section",
            path.display()
        ));
    };
    if b < a {
        return Err("README markers out of order".into());
    }
    let new = format!(
        "{}{README_START}\n{line}\n\n{table}{}",
        &text[..a],
        &text[b..]
    );
    std::fs::write(path, new).map_err(|e| format!("{}: {e}", path.display()))
}
