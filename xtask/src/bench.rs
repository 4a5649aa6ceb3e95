//! `cargo xtask bench`: our client and Dynamic's official JS SDK side by side against one
//! release sandbox (crates/stepup-keychain/benches/side_by_side.rs, inside a private D-Bus
//! session with a real gnome-keyring), plus the app's own figures (tests/e2e/bench.sh: binary
//! size, idle PSS, deep link → dialog), in one table on stdout, in
//! `ci-artifacts/bench/bench.json` and in the README.
//!
//! `cargo xtask test` runs [`short`]: the side-by-side part only, fewer rounds, failing when a
//! figure is past its floor in `xtask/bench-floors.json`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sys::{run, Step};
use crate::{cargo, target_dir};

/// Where the bench's artifacts go.
fn out_dir(root: &Path) -> PathBuf {
    root.join("ci-artifacts/bench")
}

/// The commit measured (`-dirty` when the worktree has changes).
fn commit(root: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let hash = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    if dirty {
        format!("{hash}-dirty")
    } else {
        hash
    }
}

/// `npm ci` of the SDK harness (idempotent, a few seconds).
fn npm_ci(root: &Path) -> Result<(), String> {
    run(Step::new(
        "npm ci (JS SDK)",
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(root.join("conformance/js-sdk")),
    ))
}

/// The side-by-side bench (a release build: the `bench` profile) in a private Secret Service.
fn side_by_side(root: &Path, name: &str, extra: &[String]) -> Result<(), String> {
    let mut bench = Command::new("dbus-run-session");
    bench
        .arg("--")
        .arg(root.join("crates/stepup-keychain/with-keyring.sh"))
        .arg(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "bench",
            "--locked",
            "-p",
            "stepup-keychain",
            "--bench",
            "side_by_side",
            "--",
        ])
        .args(extra)
        .env(
            "STEPUP_KEYRING_HOME",
            target_dir(root).join("bench-keyring-home"),
        )
        .current_dir(root);
    run(Step::new(name, &mut bench))
}

/// The short version `cargo xtask test` runs: fails when a figure is past its floor.
pub fn short(root: &Path) -> Result<(), String> {
    npm_ci(root)?;
    let out = out_dir(root).join("bench-short.json");
    side_by_side(
        root,
        "bench, short (floors in xtask/bench-floors.json)",
        &[
            "--quick".into(),
            "--floors".into(),
            root.join("xtask/bench-floors.json").display().to_string(),
            "--out".into(),
            out.display().to_string(),
            "--commit".into(),
            commit(root),
        ],
    )
}

/// `cargo xtask bench [--short | --no-app | --app-json PATH] [--criterion]`: `--short` is the
/// run `cargo xtask test` makes (floors checked, no README); `--app-json` takes the
/// app's figures from an earlier `tests/e2e/bench.sh` run instead of building and measuring.
pub fn full(root: &Path, flags: &[String]) -> Result<(), String> {
    if flags.iter().any(|f| f == "--short") {
        // What `cargo xtask test` runs, alone.
        return short(root);
    }
    let app_json = flags
        .iter()
        .position(|f| f == "--app-json")
        .map(|i| flags.get(i + 1).cloned().ok_or("--app-json needs a path"))
        .transpose()?;
    let app = app_json.is_none() && !flags.iter().any(|f| f == "--no-app");
    let criterion = flags.iter().any(|f| f == "--criterion");
    npm_ci(root)?;
    let mut extra = vec![
        "--full".to_owned(),
        "--floors".into(),
        root.join("xtask/bench-floors.json").display().to_string(),
        "--out".into(),
        out_dir(root).join("bench.json").display().to_string(),
        "--readme".into(),
        root.join("README.md").display().to_string(),
        "--commit".into(),
        commit(root),
    ];
    if app {
        // The app as `tauri build` makes it, measured by tests/e2e/bench.sh under Xvfb.
        run(Step::new(
            "build the release app",
            cargo()
                .args([
                    "build",
                    "--release",
                    "--features",
                    "custom-protocol",
                    "-p",
                    "stepup-desktop",
                    "--locked",
                ])
                .current_dir(root),
        ))?;
        let app_out = out_dir(root).join("app");
        run(Step::new(
            "app bench (size, idle PSS, link → dialog)",
            Command::new("bash")
                .arg(root.join("tests/e2e/bench.sh"))
                .arg(target_dir(root).join("release/stepup-desktop"))
                .arg("5")
                .env("BENCH_OUT", &app_out)
                .current_dir(root),
        ))?;
        extra.push("--app-json".into());
        extra.push(app_out.join("bench.json").display().to_string());
    }
    if let Some(path) = app_json {
        extra.push("--app-json".into());
        extra.push(path);
    }
    side_by_side(root, "bench, side by side with the JS SDK", &extra)?;
    if criterion {
        // The criterion micro-benchmarks, inside a private Secret Service too.
        let mut benches = Command::new("dbus-run-session");
        benches
            .arg("--")
            .arg(root.join("crates/stepup-keychain/with-keyring.sh"))
            .arg(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "bench",
                "--locked",
                "-p",
                "stepup-client",
                "-p",
                "stepup-keychain",
                "--bench",
                "step_up",
                "--bench",
                "keychain",
                "--bench",
                "check",
            ])
            .env("STEPUP_KEYRING_HOME", target_dir(root).join("keyring-home"))
            .current_dir(root);
        run(Step::new("criterion benches", &mut benches))?;
    }
    Ok(())
}
