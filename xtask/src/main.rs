//! `cargo xtask <command>`: the developer commands. Each installs what it needs on a fresh
//! Debian/Ubuntu machine (apt packages, tauri-driver, npm packages) before it runs.
//!
//! - `test`: formatting, clippy, every Rust test (keychain tests inside a private D-Bus session
//!   with a real gnome-keyring), the official JS SDK against the sandbox, and the app's
//!   end-to-end tests in a real window under Xvfb, a short smoke run (5 s each) of
//!   every fuzz target, and the short side-by-side bench, which fails when a figure is past
//!   its floor (`xtask/bench-floors.json`).
//!   Then the installed package: `package` below, installed with apt-get, opened through the
//!   OS handler under Xvfb, removed (tests/e2e/package.sh; root only).
//! - `package`: the .deb of the app without its sandbox, made by the Tauri
//!   bundler (package.rs).
//! - `demo`: builds and starts the desktop app with its embedded sandbox.
//! - `bench [--short | --no-app | --app-json F] [--criterion]`: our client and the official JS SDK side by side against
//!   one release sandbox (fast path, server check, full step-up in memory and in the real
//!   keychain, Secret Service calls per step-up), and the app's size, idle memory and deep link
//!   → dialog latency: one table on stdout, in `ci-artifacts/bench/bench.json` and the README
//!   (see `bench.rs`). `--criterion` adds the criterion micro-benchmarks. Without `--short`,
//!   it ends with the package's binary and .deb sizes.
//! - `conformance`: only the JS SDK run (needs a built sandbox).
//! - `fuzz [--seconds N] [TARGET...]`: the cargo-fuzz targets in `fuzz/` (nightly, its own
//!   workspace), each for N seconds (default 60); prints executions and crashes per target and
//!   fails on a crash, naming the saved input. Installs cargo-fuzz if missing.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

mod bench;
mod fuzz;
mod package;
mod sys;

use sys::{ensure_apt, run, Step};

/// How long `cargo xtask test` runs each fuzz target.
const FUZZ_SMOKE_SECONDS: u64 = 5;

/// Packages the Rust tests need: a real Secret Service on a private session bus.
const KEYCHAIN_PACKAGES: &[&str] = &["dbus", "dbus-daemon", "gnome-keyring", "libsecret-tools"];

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let root = workspace_root();
    // Every test, benchmark and the demo talk to this machine only: each client the Rust code
    // builds refuses a non-loopback API base URL (stepup-client's `LOOPBACK_ONLY_ENV`); the JS
    // harnesses refuse non-loopback `fetch` by themselves (conformance/js-sdk/node-env.mjs).
    env::set_var("STEPUP_LOOPBACK_ONLY", "1");
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&root, &args[1..]),
        Some("demo") => demo(&root),
        Some("bench") => ensure_apt(KEYCHAIN_PACKAGES)
            .and_then(|()| setup_app(&root))
            .and_then(|()| bench::full(&root, &args[1..]))
            .and_then(|()| {
                // The shipped sizes: the package's binary (no sandbox) and the .deb.
                if args[1..].iter().any(|a| a == "--short") {
                    Ok(())
                } else {
                    package::package(&root).map(|_| ())
                }
            }),
        Some("conformance") => conformance(&root),
        Some("fuzz") => fuzz::fuzz(&root, &args[1..]),
        Some("package") => ensure_apt(KEYCHAIN_PACKAGES)
            .and_then(|()| setup_app(&root))
            .and_then(|()| package::package(&root).map(|_| ())),
        _ => {
            eprintln!("usage: cargo xtask <test|demo|bench|conformance|fuzz|package>\n  test [--no-lint] [--no-e2e] [--no-fuzz] [--no-bench] [--no-package]\n                               everything CI runs\n  package                      the .deb (the app without its sandbox)\n  demo                         the app with its embedded sandbox\n  bench [--short | --no-app | --app-json F] [--criterion]\n                               side by side with the JS SDK, and the app\n  conformance                  the official JS SDK against the sandbox\n  fuzz [--seconds N] [TARGET...]\n                               the fuzz targets, N s each (default 60)");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    // `cargo run` sets CARGO_MANIFEST_DIR for the process too: prefer it to the value compiled
    // in, which names the checkout that built the binary. A target dir shared by two checkouts
    // (CI's clone and a developer's) may run an xtask built in the other one, unrebuilt.
    let manifest = env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

fn cargo() -> Command {
    Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn target_dir(root: &Path) -> PathBuf {
    env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

fn test(root: &Path, flags: &[String]) -> Result<(), String> {
    let lint = !flags.iter().any(|f| f == "--no-lint");
    let e2e = !flags.iter().any(|f| f == "--no-e2e");
    let fuzz_smoke = !flags.iter().any(|f| f == "--no-fuzz");
    let package_test = !flags.iter().any(|f| f == "--no-package");
    let bench_short = !flags.iter().any(|f| f == "--no-bench");
    ensure_apt(KEYCHAIN_PACKAGES)?;
    // WebKitGTK build packages, Xvfb, WebKitWebDriver, tauri-driver, the WebDriver client:
    // needed before the first build, since the workspace root is the Tauri app.
    setup_app(root)?;
    if lint {
        run(Step::new(
            "format check",
            cargo()
                .args(["fmt", "--all", "--", "--check"])
                .current_dir(root),
        ))?;
        run(Step::new(
            "clippy",
            cargo()
                .args([
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--locked",
                    "--",
                    "-D",
                    "warnings",
                ])
                .current_dir(root),
        ))?;
        run(Step::new(
            "clippy (the app's mock-runtime IPC tests)",
            cargo()
                .args([
                    "clippy",
                    "-p",
                    "stepup-desktop",
                    "--features",
                    "test",
                    "--all-targets",
                    "--locked",
                    "--",
                    "-D",
                    "warnings",
                ])
                .current_dir(root),
        ))?;
    }
    run(Step::new(
        "build",
        cargo()
            .args(["build", "--workspace", "--all-targets", "--locked"])
            .current_dir(root),
    ))?;
    // Every Rust test, inside a private D-Bus session with an unlocked gnome-keyring so that the
    // keychain tests run against a real Secret Service.
    let keyring_home = target_dir(root).join("keyring-home");
    let mut tests = Command::new("dbus-run-session");
    tests
        .arg("--")
        .arg(root.join("crates/stepup-keychain/with-keyring.sh"))
        .arg(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["test", "--workspace", "--locked", "--", "--include-ignored"])
        .env("STEPUP_KEYRING_HOME", &keyring_home)
        .current_dir(root);
    run(Step::new(
        "tests (with a private Secret Service)",
        &mut tests,
    ))?;
    // The IPC boundary under Tauri's mock runtime: no display, no bus; its data dir isolated.
    run(Step::new(
        "app IPC tests (tauri mock runtime)",
        cargo()
            .args([
                "test",
                "-p",
                "stepup-desktop",
                "--features",
                "test",
                "--lib",
                "--locked",
            ])
            .env_remove("DISPLAY")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("XDG_DATA_HOME", target_dir(root).join("mock-xdg/data"))
            .env("XDG_CONFIG_HOME", target_dir(root).join("mock-xdg/config"))
            .current_dir(root),
    ))?;
    if fuzz_smoke {
        // Every fuzz target briefly, so that a parser regression fails CI (nightly; its own
        // workspace and target dir, fuzz/target). `cargo xtask fuzz` runs them longer.
        eprintln!("xtask: == fuzz smoke (every target, {FUZZ_SMOKE_SECONDS} s each) ==");
        let started = std::time::Instant::now();
        fuzz::smoke(root, FUZZ_SMOKE_SECONDS)?;
        eprintln!(
            "xtask: fuzz smoke took {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    conformance(root)?;
    if bench_short {
        // Our client against the official SDK in one short run: fails past a floor.
        bench::short(root)?;
    }
    if e2e {
        app_e2e(root)?;
    }
    if package_test {
        installed_package_test(root)?;
    }
    eprintln!("xtask: all tests passed");
    Ok(())
}

/// The official JS SDK against a freshly started sandbox.
fn conformance(root: &Path) -> Result<(), String> {
    let dir = root.join("conformance/js-sdk");
    let sandbox = target_dir(root).join("debug/stepup-sandbox");
    if !sandbox.exists() {
        run(Step::new(
            "build sandbox",
            cargo()
                .args(["build", "-p", "stepup-sandbox", "--locked"])
                .current_dir(root),
        ))?;
    }
    run(Step::new(
        "npm ci (JS SDK)",
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir),
    ))?;
    run(Step::new(
        "loopback guard of the JS harnesses",
        Command::new("node")
            .args(["--test", "node-env.test.mjs"])
            .current_dir(&dir),
    ))?;
    run(Step::new(
        "JS SDK conformance",
        Command::new("node")
            .arg("conformance.mjs")
            .env("STEPUP_SANDBOX_BIN", &sandbox)
            .current_dir(&dir),
    ))?;
    // The request-diff test: our client's side is an example binary of stepup-client.
    client_example(
        root,
        "request_flows",
        "build request_flows (our side of the request diff)",
    )?;
    run(Step::new(
        "request diff: our client and the JS SDK send the same requests",
        Command::new("node")
            .arg("request-diff.mjs")
            .env("STEPUP_SANDBOX_BIN", &sandbox)
            .env(
                "STEPUP_REQUEST_FLOWS_BIN",
                target_dir(root).join("debug/examples/request_flows"),
            )
            .current_dir(&dir),
    ))
}

/// Installs what building and driving the desktop app needs (idempotent).
fn setup_app(root: &Path) -> Result<(), String> {
    run(Step::new(
        "app prerequisites",
        Command::new("bash")
            .arg(root.join("tests/e2e/setup.sh"))
            .current_dir(root),
    ))
}

/// The debug binary of the desktop app, wherever the target dir is.
fn app_binary(root: &Path) -> PathBuf {
    target_dir(root).join("debug/stepup-desktop")
}

fn app_e2e(root: &Path) -> Result<(), String> {
    run(Step::new(
        "app end-to-end (Xvfb + WebDriver)",
        Command::new("bash")
            .arg(root.join("tests/e2e/run.sh"))
            .arg(app_binary(root))
            .current_dir(root),
    ))
}

/// The .deb installed into this machine with apt-get, its handler opened through the OS under
/// Xvfb, then purged (tests/e2e/package.sh). It installs system-wide, so it needs root: a CI
/// machine is a throw-away one; elsewhere the step says so and is skipped with `--no-package`.
fn installed_package_test(root: &Path) -> Result<(), String> {
    if !sys::is_root() {
        return Err("the installed-package test installs the .deb system-wide: run it as root on a throw-away machine, or pass --no-package".into());
    }
    let made = package::package(root)?;
    run(Step::new(
        "installed package (apt-get install, gio open/xdg-open under Xvfb, purge)",
        Command::new("bash")
            .arg(root.join("tests/e2e/package.sh"))
            .arg(&made.deb)
            .arg(target_dir(root).join("debug/stepup-sandbox"))
            .current_dir(root),
    ))?;
    client_example(root, "os_verification_probe", "build the polkit probe")?;
    // The debug app and sandbox its E2E drives (a no-op after the E2E suite).
    run(Step::new(
        "build the app the polkit E2E drives",
        cargo()
            .args([
                "build",
                "-p",
                "stepup-desktop",
                "-p",
                "stepup-sandbox",
                "--locked",
            ])
            .current_dir(root),
    ))?;
    run(Step::new(
        "the device passkey verified by polkit (the package's helper, polkitd, pkexec, PAM; the window as an ordinary user)",
        Command::new("bash")
            .arg(root.join("tests/polkit/run.sh"))
            .arg(&made.deb)
            .arg(target_dir(root).join("debug/examples/os_verification_probe"))
            .arg(target_dir(root).join("debug/stepup-desktop"))
            .current_dir(root),
    ))
}

/// Builds one of stepup-client's examples (a test's own program), as step `what`.
fn client_example(root: &Path, example: &str, what: &str) -> Result<(), String> {
    run(Step::new(
        what,
        cargo()
            .args([
                "build",
                "-p",
                "stepup-client",
                "--example",
                example,
                "--locked",
            ])
            .current_dir(root),
    ))
}

fn demo(root: &Path) -> Result<(), String> {
    ensure_apt(KEYCHAIN_PACKAGES)?;
    setup_app(root)?;
    run(Step::new(
        "demo",
        Command::new("bash")
            .arg(root.join("tests/e2e/demo.sh"))
            .current_dir(root),
    ))
}
