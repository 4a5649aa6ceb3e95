//! `cargo xtask package`: the Debian package of the desktop app, made by the Tauri bundler
//! (`@tauri-apps/cli`, pinned in packaging/package.json; its binary ships in the npm package,
//! nothing is downloaded when it runs).
//!
//! 1. `cargo build --release -p stepup-desktop --no-default-features --features
//!    custom-protocol`: the shipped app, without the sandbox, in the size-tuned release profile.
//! 2. `tauri bundle --bundles deb` with packaging/tauri.package.json merged in: our own desktop
//!    entry (`Exec=stepup-desktop %u`, the scheme handler), the hicolor icons, the
//!    post-install and post-removal scripts. `--no-binary-patching`: the binary in the
//!    package is the one cargo built (no updater here to read a patched bundle type).
//! 3. The .deb is copied to `<target>/package/stepup-desktop_<version>_amd64.deb`.
//!
//! Only the .deb is made: the AppImage bundler downloads linuxdeploy at run time.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sys::{run, Step};
use crate::{cargo, target_dir};

/// What `package` made.
pub struct Package {
    /// The .deb.
    pub deb: PathBuf,
}

/// Builds the app without the sandbox and bundles it as a .deb.
pub fn package(root: &Path) -> Result<Package, String> {
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
                "--release",
                "-p",
                "stepup-desktop",
                "--no-default-features",
                "--features",
                "custom-protocol",
                "--locked",
            ])
            .current_dir(root),
    ))?;
    run(Step::new(
        "build the polkit helper",
        cargo()
            .args(["build", "--release", "-p", "stepup-uv-helper", "--locked"])
            .current_dir(root),
    ))?;
    let target = target_dir(root);
    // The bundler's `files` name sources by fixed paths: the helper is staged beside the policy.
    let stage = root.join("packaging/stage");
    std::fs::create_dir_all(&stage).map_err(|e| format!("{}: {e}", stage.display()))?;
    std::fs::copy(
        target.join("release/stepup-uv-helper"),
        stage.join("stepup-uv-helper"),
    )
    .map_err(|e| format!("staging the polkit helper: {e}"))?;
    let binary = target.join("release/stepup-desktop");
    let bundle_dir = target.join("release/bundle/deb");
    let _ = std::fs::remove_dir_all(&bundle_dir);
    run(Step::new(
        "tauri bundle --bundles deb",
        Command::new(&cli)
            .args([
                "bundle",
                "--bundles",
                "deb",
                "--ci",
                "--no-binary-patching",
                "--config",
                "packaging/tauri.package.json",
            ])
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
    let stage = target.join("package");
    std::fs::create_dir_all(&stage).map_err(|e| format!("{}: {e}", stage.display()))?;
    let deb = stage.join(name);
    std::fs::copy(&made, &deb).map_err(|e| format!("cannot copy {}: {e}", made.display()))?;
    let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "xtask: package: {} ({:.2} MB; binary {:.2} MB)",
        deb.display(),
        size(&deb) as f64 / 1e6,
        size(&binary) as f64 / 1e6,
    );
    Ok(Package { deb })
}
