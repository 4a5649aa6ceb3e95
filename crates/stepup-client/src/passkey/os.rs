//! The OS's own user verification for the device passkey, where the desktop has one: on Linux,
//! polkit. Instead of a PIN, the passkey's state is sealed under a key that a root-owned helper
//! (`stepup-uv-helper`, installed by the package) releases only after polkit's authentication
//! agent had the user authenticate as themself (`auth_self`, never kept: every use asks). The
//! helper's per-user secret is readable by root only, so the user's own processes (anything
//! that can read the keychain item) cannot open the seal without the OS's yes, and PAM, not
//! this app, counts and delays wrong passwords.

use crate::error::StepUpError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Releases the sealing key for a salt after the OS verified the user. Blocks while the OS
/// asks (the ceremony's worker thread).
pub trait OsVerifier: Send + Sync {
    /// The 32-byte key for `salt`, or the OS's refusal.
    fn release(&self, salt: &[u8; 16]) -> Result<Zeroizing<[u8; 32]>, StepUpError>;
}

/// polkit through `pkexec` and the package's helper.
#[derive(Debug, Clone)]
pub struct Polkit {
    pkexec: PathBuf,
    helper: PathBuf,
}

/// Where the package installs the helper (the policy's `exec.path` names it).
pub const POLKIT_HELPER: &str = "/usr/libexec/stepup-desktop/stepup-uv-helper";
/// The polkit action the package installs.
pub const POLKIT_POLICY: &str = "/usr/share/polkit-1/actions/org.stepup.desktop.policy";
const PKEXEC: &str = "/usr/bin/pkexec";
const SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";
/// How long the OS may ask before the ceremony gives up (the passkey ceremony's own limit
/// is 60 s; a password typed slowly gets a little more).
const ASK_LIMIT: Duration = Duration::from_secs(90);

impl Polkit {
    /// polkit when this machine has it: pkexec, the package's helper and policy, and a
    /// system bus for polkitd. `None` otherwise (the device passkey then uses a PIN), and for
    /// root: polkit authorises root without asking anyone, so it verifies no user there (the
    /// helper refuses uid 0 too).
    pub fn detect() -> Option<Self> {
        // Unknown counts as root: the PIN then, never an OS that asks nobody.
        let root = effective_uid().is_none_or(|uid| uid == 0);
        let all = [PKEXEC, POLKIT_HELPER, POLKIT_POLICY, SYSTEM_BUS];
        (!root && all.iter().all(|p| Path::new(p).exists())).then(|| Self {
            pkexec: PKEXEC.into(),
            helper: POLKIT_HELPER.into(),
        })
    }
}

impl OsVerifier for Polkit {
    fn release(&self, salt: &[u8; 16]) -> Result<Zeroizing<[u8; 32]>, StepUpError> {
        // No internal text agent: the desktop's agent asks, in its own window.
        let mut child = Command::new(&self.pkexec)
            .arg("--disable-internal-agent")
            .arg(&self.helper)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                tracing::warn!(error = %e, "pkexec could not start");
                StepUpError::UserNotVerified
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // The salt is not secret; a failed write shows as the helper's refusal below.
            let _ = writeln!(stdin, "{}", B64.encode(salt));
        }
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() < ASK_LIMIT => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                Ok(None) | Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    tracing::warn!("the OS's user verification did not answer in time");
                    return Err(StepUpError::Cancelled);
                }
            }
        };
        let mut out = Zeroizing::new(Vec::with_capacity(64));
        if let Some(stdout) = child.stdout.take() {
            let _ = stdout.take(64).read_to_end(&mut out);
        }
        let mut err = Vec::with_capacity(256);
        if let Some(stderr) = child.stderr.take() {
            let _ = stderr.take(256).read_to_end(&mut err);
        }
        if let Some(refused) = refusal(status.code(), &err) {
            return Err(refused);
        }
        let text = std::str::from_utf8(&out)
            .map(str::trim)
            .map_err(|_| StepUpError::UserNotVerified)?;
        let bytes = Zeroizing::new(B64.decode(text).map_err(|_| StepUpError::UserNotVerified)?);
        let mut key = Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return Err(StepUpError::UserNotVerified);
        }
        key.copy_from_slice(&bytes);
        Ok(key)
    }
}

/// This process's effective uid, from `/proc/self/status` (its `Uid:` line: real, effective,
/// saved, filesystem), read up to 8 KiB.
fn effective_uid() -> Option<u32> {
    let mut status = String::new();
    std::fs::File::open("/proc/self/status")
        .ok()?
        .take(8192)
        .read_to_string(&mut status)
        .ok()?;
    uid_of(&status)
}

fn uid_of(status: &str) -> Option<u32> {
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// What pkexec's exit says when it is not a release (pkexec(1)): 126 the user dismissed the
/// agent's dialog; 127 not authorised (a wrong password), or no agent to ask (said on
/// stderr: the device passkey then offers a PIN), or a dialog dismissed on the way; anything
/// else is the helper's own refusal.
fn refusal(code: Option<i32>, stderr: &[u8]) -> Option<StepUpError> {
    let said = String::from_utf8_lossy(stderr);
    let said = said.trim();
    match code {
        Some(0) => None,
        Some(127) if said.contains("No authentication agent found") => {
            tracing::warn!(pkexec = %said, "no polkit authentication agent runs in this session");
            Some(StepUpError::OsVerificationUnavailable)
        }
        Some(code @ (126 | 127)) if code == 126 || said.contains("dismissed") => {
            tracing::info!(pkexec = %said, "the OS's user verification was dismissed");
            Some(StepUpError::Cancelled)
        }
        Some(127) => {
            tracing::warn!(pkexec = %said, "the OS did not verify the user");
            Some(StepUpError::UserNotVerified)
        }
        code => {
            tracing::warn!(?code, helper = %said, "the OS's user verification failed");
            Some(StepUpError::UserNotVerified)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_effective_uid_is_read_from_the_status_line() {
        assert_eq!(uid_of("Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t1\n"), Some(0));
        assert_eq!(uid_of("Uid:\t0\t1001\t1001\t1001\n"), Some(1001));
        assert_eq!(uid_of("Uid:\t0\n"), None);
        assert_eq!(uid_of("Gid:\t0\t0\n"), None);
        assert!(effective_uid().is_some(), "this process's own status");
    }

    #[test]
    fn pkexec_exits_say_what_happened() {
        // pkexec's own words (polkit 122-126), as real runs said them.
        let not_authorised: &[u8] = b"Error executing command as another user: Not authorized\n\nThis incident has been reported.\n";
        let no_agent: &[u8] =
            b"Error executing command as another user: No authentication agent found.\n";
        let dismissed: &[u8] = b"Error executing command as another user: Request dismissed\n";
        for (code, said, answer) in [
            (Some(0), &b""[..], None),
            // A wrong password.
            (
                Some(127),
                not_authorised,
                Some(StepUpError::UserNotVerified),
            ),
            // No agent registered for the caller.
            (
                Some(127),
                no_agent,
                Some(StepUpError::OsVerificationUnavailable),
            ),
            // The agent's dialog dismissed.
            (Some(126), b"", Some(StepUpError::Cancelled)),
            (Some(127), dismissed, Some(StepUpError::Cancelled)),
            // The helper's own refusals (1, 2) and a signal are no release either.
            (
                Some(1),
                b"stepup-uv-helper: refused",
                Some(StepUpError::UserNotVerified),
            ),
            (None, b"", Some(StepUpError::UserNotVerified)),
        ] {
            assert_eq!(
                refusal(code, said),
                answer,
                "{code:?} {}",
                String::from_utf8_lossy(said)
            );
        }
    }
}
