//! `cargo xtask package [--profile NAME]`: the Debian package of the desktop app, made by the
//! Tauri bundler (`@tauri-apps/cli`, pinned in packaging/package.json; its binary ships in the
//! npm package, nothing is downloaded when it runs).
//!
//! 1. `cargo build --profile NAME -p stepup-desktop --no-default-features --features
//!    custom-protocol`: the shipped app, without the sandbox (default profile `release`).
//! 2. The binary is staged as `<target>/package/release/stepup-desktop` (where `tauri bundle`
//!    looks, whatever profile built it) and `tauri bundle --bundles deb` runs with
//!    `CARGO_TARGET_DIR=<target>/package` and packaging/tauri.package.json merged in: our own
//!    desktop entry (`Exec=stepup-desktop %u`, the scheme handler), the hicolor icons, the
//!    post-install and post-removal scripts.
//! 3. The .deb is copied to `<target>/package/stepup-desktop_<version>_amd64.deb`.
//!
//! Only the .deb is made: the AppImage bundler downloads linuxdeploy at run time.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sys::{run, Step};
use crate::{cargo, target_dir};

/// The profile `cargo xtask package` builds with by default.
pub const DEFAULT_PROFILE: &str = "release";

/// What `package` made.
pub struct Package {
    /// The .deb.
    pub deb: PathBuf,
}

/// The profile named by `--profile NAME` in `flags`, else [`DEFAULT_PROFILE`].
pub fn profile_of(flags: &[String]) -> Result<String, String> {
    match flags {
        [] => Ok(DEFAULT_PROFILE.into()),
        [flag, name] if flag == "--profile" && !name.starts_with('-') => Ok(name.clone()),
        _ => Err("usage: cargo xtask package [--profile NAME]".into()),
    }
}

/// The directory a profile's artifacts go to (`dev` builds into `debug`).
fn profile_dir(profile: &str) -> &str {
    match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    }
}

/// Builds the app without the sandbox in `profile` and bundles it as a .deb.
pub fn package(root: &Path, profile: &str) -> Result<Package, String> {
    let cli = root.join("packaging/node_modules/.bin/tauri");
    if !cli.exists() {
        run(Step::new(
            "npm ci (the Tauri bundler)",
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(root.join("packaging")),
        ))?;
    }
    run(Step::new(
        "build the packaged app (no sandbox)",
        cargo()
            .args([
                "build",
                "--profile",
                profile,
                "-p",
                "stepup-desktop",
                "--no-default-features",
                "--features",
                "custom-protocol",
                "--locked",
            ])
            .current_dir(root),
    ))?;
    let target = target_dir(root);
    let binary = target.join(profile_dir(profile)).join("stepup-desktop");
    let stage = target.join("package");
    let staged = stage.join("release");
    let bundle_dir = staged.join("bundle/deb");
    let _ = std::fs::remove_dir_all(&bundle_dir);
    std::fs::create_dir_all(&staged).map_err(|e| format!("{}: {e}", staged.display()))?;
    std::fs::copy(&binary, staged.join("stepup-desktop"))
        .map_err(|e| format!("cannot stage {}: {e}", binary.display()))?;
    run(Step::new(
        "tauri bundle --bundles deb",
        Command::new(&cli)
            .args([
                "bundle",
                "--bundles",
                "deb",
                "--ci",
                "--config",
                "packaging/tauri.package.json",
            ])
            .env("CARGO_TARGET_DIR", &stage)
            .env("CI", "true")
            .current_dir(root),
    ))?;
    let made = std::fs::read_dir(&bundle_dir)
        .map_err(|e| format!("no bundle in {}: {e}", bundle_dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "deb"))
        .ok_or_else(|| format!("the bundler made no .deb in {}", bundle_dir.display()))?;
    let name = made
        .file_name()
        .ok_or_else(|| "the .deb has no name".to_owned())?;
    let deb = stage.join(name);
    std::fs::copy(&made, &deb).map_err(|e| format!("cannot copy {}: {e}", made.display()))?;
    let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "xtask: package: {} ({:.2} MB; binary {:.2} MB, profile {profile})",
        deb.display(),
        size(&deb) as f64 / 1e6,
        size(&binary) as f64 / 1e6,
    );
    Ok(Package { deb })
}
