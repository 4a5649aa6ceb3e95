//! Running commands and installing what is missing.

use std::process::Command;
use std::time::Instant;

/// A named command to run.
pub struct Step<'a> {
    name: &'a str,
    command: &'a mut Command,
}

impl<'a> Step<'a> {
    pub fn new(name: &'a str, command: &'a mut Command) -> Self {
        Self { name, command }
    }
}

/// Runs a step, printing its name and duration; a non-zero exit is an error.
pub fn run(step: Step<'_>) -> Result<(), String> {
    eprintln!("xtask: == {} ==", step.name);
    let started = Instant::now();
    let status = step
        .command
        .status()
        .map_err(|e| format!("{}: cannot start: {e}", step.name))?;
    eprintln!(
        "xtask: {} took {:.1} s",
        step.name,
        started.elapsed().as_secs_f64()
    );
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status})", step.name))
    }
}

fn installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

/// Installs the Debian packages that are missing (apt-get update first), as root or via sudo.
pub fn ensure_apt(packages: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = packages.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if Command::new("apt-get").arg("--version").output().is_err() {
        return Err(format!(
            "missing packages {missing:?} and no apt-get: install them by hand"
        ));
    }
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    let mut update = Command::new(sudo.first().copied().unwrap_or("apt-get"));
    if !sudo.is_empty() {
        update.arg("apt-get");
    }
    update.args(["update", "-q"]);
    run(Step::new("apt-get update", &mut update))?;
    let mut install = Command::new(sudo.first().copied().unwrap_or("apt-get"));
    if !sudo.is_empty() {
        install.arg("apt-get");
    }
    install
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive");
    run(Step::new("apt-get install", &mut install))
}
