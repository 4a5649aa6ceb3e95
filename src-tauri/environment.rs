//! Where the app's environment comes from outside the sandbox: the environment variables a
//! launcher (or a test) sets, over the settings file of the first-run setup. Read at launch
//! and after setup; validated before any client is built.

use crate::settings::{read_file, resolve, settings_path, FileState, Overrides, Source};
use std::path::PathBuf;
use stepup_client::Config;
use stepup_requests::signed::RequesterKeys;
use stepup_requests::{AppError, ReturnToAllowList};
use url::Url;

/// The configuration of a real (non-sandbox) app: the environment variables
/// (`STEPUP_ENVIRONMENT_ID`, `STEPUP_API_BASE_URL`, `STEPUP_APP_ORIGIN`) over the settings file
/// the first-run setup writes ([`crate::settings`]). Nothing configured is `not_configured`:
/// the window then shows the setup.
pub fn config_from_settings() -> (Source, Result<Config, AppError>) {
    let file = match settings_path() {
        Some(path) => read_file(&path),
        None => FileState::Missing,
    };
    if let FileState::Invalid(reason) = &file {
        tracing::warn!(%reason, "the settings file cannot be used");
    }
    resolve(&Overrides::from_env(), &file)
}

/// Opens `url` (an allow-listed `return_to` with a status and a request id, or the one-time
/// loopback page of a browser step, whose path is a capability: only its origin is logged) in
/// the system browser, without a shell: `xdg-open` on Linux (which honours `$BROWSER` where no
/// desktop handler is set), `open` on macOS, the URL handler on Windows. The child is reaped
/// on its own thread; a failure is logged, the request's ending stands.
pub fn open_in_system_browser(url: &str) {
    use std::process::{Command, Stdio};
    #[cfg(target_os = "macos")]
    let mut command = Command::new("open");
    #[cfg(windows)]
    let mut command = {
        let mut c = Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    };
    #[cfg(not(any(target_os = "macos", windows)))]
    let mut command = Command::new("xdg-open");
    command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let origin = Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    match command.spawn() {
        Ok(mut child) => {
            tracing::info!(%origin, "opened in the system browser");
            std::thread::spawn(move || {
                let _ = child.wait();
            });
        }
        Err(error) => tracing::warn!(%origin, %error, "could not open the system browser"),
    }
}

/// The longest requester key file read.
const MAX_KEY_FILE_BYTES: u64 = 256 * 1024;

/// Where the keys registered for requesters live: `STEPUP_REQUESTER_KEYS_FILE`, else
/// `$XDG_CONFIG_HOME/stepup-desktop/requesters.json` (`~/.config/…`).
pub fn requester_keys_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("STEPUP_REQUESTER_KEYS_FILE") {
        return Some(PathBuf::from(path));
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(config.join("stepup-desktop").join("requesters.json"))
}

/// The keys registered for requesters (signed links show a verified requester). A missing
/// file means none; a bad one is logged and means none (every link is then a claim: the safe
/// side), with its reason.
pub fn requester_keys_from_settings() -> RequesterKeys {
    let Some(path) = requester_keys_path() else {
        return RequesterKeys::none();
    };
    let read = std::fs::File::open(&path).and_then(|file| {
        use std::io::Read as _;
        let mut text = String::new();
        file.take(MAX_KEY_FILE_BYTES + 1)
            .read_to_string(&mut text)?;
        Ok(text)
    });
    match read {
        Ok(text) => match RequesterKeys::from_json(&text) {
            Ok(keys) => {
                tracing::info!(path = %path.display(), keys = keys.len(), "requester keys read");
                keys
            }
            Err(reason) => {
                tracing::warn!(path = %path.display(), %reason, "requester keys ignored");
                RequesterKeys::none()
            }
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => RequesterKeys::none(),
        Err(error) => {
            tracing::warn!(path = %path.display(), %error, "requester keys unreadable");
            RequesterKeys::none()
        }
    }
}

/// The origins a deep link's `return_to` may name: the environment's own web app
/// (`STEPUP_APP_ORIGIN`, else the settings file's `app_origin`) and `STEPUP_RETURN_TO_ORIGINS`
/// (comma-separated). Known at launch (and again after setup), so that a link is validated the
/// moment it arrives, before the backend has started.
pub fn allow_list_from_env() -> ReturnToAllowList {
    let mut origins: Vec<String> = Vec::new();
    if let Ok(origin) = std::env::var(crate::settings::ENV_APP_ORIGIN) {
        origins.push(origin);
    } else if let Some(FileState::Valid(settings)) = settings_path().map(|p| read_file(&p)) {
        origins.extend(settings.app_origin);
    }
    if let Ok(extra) = std::env::var("STEPUP_RETURN_TO_ORIGINS") {
        origins.extend(extra.split(',').map(str::to_owned));
    }
    ReturnToAllowList::new(origins)
}
