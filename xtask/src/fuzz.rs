//! `cargo xtask fuzz`: the cargo-fuzz targets in `fuzz/` (their own nightly workspace), each
//! for a time budget, with per-target executions and crashes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::sys::{run, Step};

/// Every target in fuzz/Cargo.toml, in the order they run.
pub const TARGETS: &[&str] = &[
    "deep_link",
    "social_callback",
    "jwt",
    "responses",
    "keychain_entry",
    "sandbox_state",
    "siwe",
];

/// Per-target libFuzzer options: inputs up to `max_len` bytes (above each parser's own limit,
/// so the limit itself is exercised); a single allocation over 512 MB or an RSS over 2 GB is a
/// crash (bounded allocation).
fn max_len(target: &str) -> u32 {
    match target {
        "deep_link" => 4096,       // MAX_URL_BYTES is 2048
        "social_callback" => 4096, // MAX_URL_BYTES too
        "jwt" => 20_000,           // MAX_JWT_LEN is 16 KiB
        "keychain_entry" => 4096,  // MAX_ENTRY_BYTES is 2048; records repeat the input
        "sandbox_state" => 65_536, // a demo state is about 7 KB
        "siwe" => 8192,            // MAX_MESSAGE_BYTES is 4096, plus a signature
        _ => 16_384,
    }
}

/// What one run found.
struct Outcome {
    target: &'static str,
    seconds: f64,
    executions: Option<u64>,
    crash: Option<String>,
}

/// `fuzz [--seconds N] [TARGET...]`: runs each target (all by default) for N seconds
/// (default 60). Fails on a crash, naming the artifact.
pub fn fuzz(root: &Path, args: &[String]) -> Result<(), String> {
    let mut seconds = 60u64;
    let mut chosen = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .ok_or("--seconds needs a positive number")?;
            }
            name => match TARGETS.iter().find(|t| **t == name) {
                Some(t) => chosen.push(*t),
                None => return Err(format!("unknown fuzz target {name} (known: {TARGETS:?})")),
            },
        }
    }
    if chosen.is_empty() {
        chosen = TARGETS.to_vec();
    }
    run_targets(root, &chosen, seconds)
}

/// The short run of every target that `cargo xtask test` makes.
pub fn smoke(root: &Path, seconds: u64) -> Result<(), String> {
    run_targets(root, TARGETS, seconds)
}

fn run_targets(root: &Path, targets: &[&'static str], seconds: u64) -> Result<(), String> {
    ensure_cargo_fuzz()?;
    let dir = root.join("fuzz");
    // One build of every target first, so each budget is spent fuzzing.
    run(Step::new(
        "fuzz build (nightly, cargo-fuzz)",
        cargo_fuzz(&dir).args(["build"]),
    ))?;
    let mut outcomes = Vec::new();
    for target in targets {
        let outcome = run_target(&dir, target, seconds)?;
        let crashed = outcome.crash.is_some();
        outcomes.push(outcome);
        if crashed {
            break;
        }
    }
    eprintln!("xtask: fuzz results ({seconds} s per target):");
    eprintln!(
        "xtask:   {:<16} {:>8} {:>14} {:>8}",
        "target", "seconds", "executions", "crashes"
    );
    for o in &outcomes {
        let runs = o.executions.map_or_else(|| "?".into(), |n| n.to_string());
        let crashes = usize::from(o.crash.is_some());
        eprintln!(
            "xtask:   {:<16} {:>8.0} {:>14} {:>8}",
            o.target, o.seconds, runs, crashes
        );
    }
    match outcomes.iter().find_map(|o| o.crash.as_ref().map(|c| (o.target, c))) {
        Some((target, artifact)) => Err(format!(
            "fuzz target {target} crashed; input: {artifact} (reproduce: cd fuzz && cargo +nightly fuzz run {target} {artifact})"
        )),
        None => Ok(()),
    }
}

fn run_target(dir: &Path, target: &'static str, seconds: u64) -> Result<Outcome, String> {
    // New inputs go to a scratch corpus under fuzz/target (ignored by git); the committed
    // seeds in fuzz/corpus/<target> are read only.
    let scratch = dir.join("target/corpus").join(target);
    let seeds = dir.join("corpus").join(target);
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    let log = dir.join("target").join(format!("fuzz-{target}.log"));
    let log_file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err_file = log_file
        .try_clone()
        .map_err(|e| format!("{}: {e}", log.display()))?;
    eprintln!(
        "xtask: == fuzz {target} ({seconds} s; log {}) ==",
        log.display()
    );
    let started = Instant::now();
    let status = cargo_fuzz(dir)
        .args(["run", target])
        .arg(&scratch)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-max_len={}", max_len(target)))
        .args([
            "-rss_limit_mb=2048",
            "-malloc_limit_mb=512",
            "-print_final_stats=1",
        ])
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(err_file))
        .status()
        .map_err(|e| format!("fuzz {target}: cannot start cargo fuzz: {e}"))?;
    let elapsed = started.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let executions = executions(&text);
    let crash = crash_artifact(&text);
    if crash.is_none() && !status.success() {
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "fuzz {target} failed ({status}) without an artifact:\n{}",
            tail.join("\n")
        ));
    }
    if let Some(artifact) = &crash {
        eprintln!("xtask: fuzz {target} CRASHED: {artifact}");
        for line in text
            .lines()
            .filter(|l| l.contains("panicked at") || l.contains("ERROR:"))
        {
            eprintln!("xtask:   {line}");
        }
    }
    eprintln!(
        "xtask: fuzz {target}: {} executions in {elapsed:.0} s, {} crash(es)",
        executions.map_or_else(|| "?".into(), |n| n.to_string()),
        usize::from(crash.is_some())
    );
    Ok(Outcome {
        target,
        seconds: elapsed,
        executions,
        crash,
    })
}

/// libFuzzer's count: `stat::number_of_executed_units: N` (with -print_final_stats), else the
/// `Done N runs in S second(s)` line.
fn executions(log: &str) -> Option<u64> {
    let stat = log.lines().rev().find_map(|l| {
        l.trim()
            .strip_prefix("stat::number_of_executed_units:")
            .and_then(|n| n.trim().parse().ok())
    });
    stat.or_else(|| {
        log.lines().rev().find_map(|l| {
            l.trim()
                .strip_prefix("Done ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
    })
}

/// The input libFuzzer saved for a crash, leak, timeout or out-of-memory.
fn crash_artifact(log: &str) -> Option<String> {
    log.lines().find_map(|l| {
        l.split_once("Test unit written to ")
            .map(|(_, path)| path.trim().to_owned())
    })
}

fn nightly_cargo() -> Command {
    // `cargo +nightly` through rustup's proxy, not the stable cargo that runs the xtask, and
    // without what `cargo run` set for the xtask itself: build scripts that watch
    // `CARGO_MANIFEST_DIR` or `CARGO_PKG_*` (ring's does) would otherwise rebuild everything
    // above them whenever the fuzz build alternates between the xtask and a shell.
    let mut c = Command::new("cargo");
    c.arg("+nightly");
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let from_cargo_run = key.starts_with("CARGO_PKG_")
            || matches!(
                key,
                "CARGO"
                    | "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_DIR"
                    | "RUSTC"
                    | "RUSTUP_TOOLCHAIN"
                    | "LD_LIBRARY_PATH"
            );
        if from_cargo_run {
            c.env_remove(key);
        }
    }
    c
}

fn cargo_fuzz(dir: &Path) -> Command {
    let mut c = nightly_cargo();
    c.arg("fuzz").current_dir(dir);
    c
}

fn ensure_cargo_fuzz() -> Result<(), String> {
    let present = nightly_cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    run(Step::new(
        "install cargo-fuzz",
        Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]),
    ))
}
