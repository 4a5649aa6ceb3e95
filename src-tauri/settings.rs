//! The app's own settings file: the Dynamic environment a real (non-sandbox) app talks to,
//! entered once in the first-run setup (and changed in Settings) and kept in
//! `$XDG_CONFIG_HOME/stepup-desktop/config.toml` (`~/.config/…`), mode 0600, written
//! atomically (a new file, then a rename).
//!
//! ```toml
//! environment_id = "2762a57b-faa4-41ce-9f16-abff9300e2c9"
//! api_base_url = "https://app.dynamicauth.com/api/v0"   # optional
//! app_origin = "https://wallet.example"                 # optional
//! ```
//!
//! The environment variables (`STEPUP_ENVIRONMENT_ID`, `STEPUP_API_BASE_URL`,
//! `STEPUP_APP_ORIGIN`) still override the file, one field each.

use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use stepup_client::{Config, StepUpError};
use stepup_requests::AppError;
use url::Url;

/// The environment variable that overrides [`Settings::environment_id`].
pub const ENV_ENVIRONMENT_ID: &str = "STEPUP_ENVIRONMENT_ID";
/// The environment variable that overrides [`Settings::api_base_url`].
pub const ENV_API_BASE_URL: &str = "STEPUP_API_BASE_URL";
/// The environment variable that overrides [`Settings::app_origin`].
pub const ENV_APP_ORIGIN: &str = "STEPUP_APP_ORIGIN";
/// Where the environment id is found in Dynamic's dashboard (Developers → SDK & API Keys).
pub const DASHBOARD_URL: &str = "https://app.dynamic.xyz/dashboard/developer/api";

/// The longest settings file read.
const MAX_FILE_BYTES: u64 = 16 * 1024;
/// The longest field accepted (a URL; the id is 36 characters).
const MAX_FIELD_LEN: usize = 2048;

/// What the settings file holds: the environment a real app talks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The Dynamic environment id (a UUID).
    pub environment_id: String,
    /// The API base URL, when not Dynamic's production API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<String>,
    /// The environment's web app origin (sent as `Origin`; a `return_to` may point there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_origin: Option<String>,
}

/// `$XDG_CONFIG_HOME/stepup-desktop/config.toml`, else `~/.config/stepup-desktop/config.toml`.
pub fn settings_path() -> Option<PathBuf> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(config.join("stepup-desktop").join("config.toml"))
}

/// True when `id` is a UUID in its canonical text form (8-4-4-4-12 hex digits), as Dynamic's
/// dashboard shows environment ids.
pub fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

fn invalid(reason: impl Into<String>) -> AppError {
    AppError::Client(StepUpError::InvalidInput(reason.into()))
}

/// A field as typed: trimmed, empty as none, bounded.
fn field(value: Option<&str>, name: &str) -> Result<Option<String>, AppError> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.len() > MAX_FIELD_LEN {
        return Err(invalid(format!("the {name} is too long")));
    }
    Ok(Some(value.to_owned()))
}

impl Settings {
    /// Checks what the setup form (or a hand-edited file) says: the id a UUID, the API base an
    /// http(s) URL the client accepts (https, or http to this machine), the origin a bare
    /// origin (`https://host[:port]`). The values are kept as normalised.
    pub fn validated(
        environment_id: &str,
        api_base_url: Option<&str>,
        app_origin: Option<&str>,
    ) -> Result<Self, AppError> {
        let environment_id = field(Some(environment_id), "environment id")?
            .ok_or_else(|| invalid("enter the environment id from Dynamic's dashboard"))?;
        if !is_uuid(&environment_id) {
            return Err(invalid(
                "the environment id is not a UUID (like 2762a57b-faa4-41ce-9f16-abff9300e2c9): copy it from Dynamic's dashboard",
            ));
        }
        let api_base_url = field(api_base_url, "API base URL")?
            .map(|raw| {
                Url::parse(&raw)
                    .map(|u| u.to_string())
                    .map_err(|_| invalid("the API base URL is not a URL"))
            })
            .transpose()?;
        let app_origin = field(app_origin, "app origin")?
            .map(|raw| {
                let url = Url::parse(&raw).map_err(|_| invalid("the app origin is not a URL"))?;
                let origin = url.origin().ascii_serialization();
                let bare = raw.trim_end_matches('/');
                if !matches!(url.scheme(), "https" | "http") || origin != bare {
                    return Err(invalid(
                        "the app origin must be an origin only, like https://wallet.example",
                    ));
                }
                Ok(origin)
            })
            .transpose()?;
        let settings = Self {
            environment_id,
            api_base_url,
            app_origin,
        };
        // The client's own rules (https, or http to loopback; loopback only in tests).
        settings.to_config(&Overrides::default())?;
        Ok(settings)
    }

    /// The client configuration these settings make, with `overrides` applied.
    pub fn to_config(&self, overrides: &Overrides) -> Result<Config, AppError> {
        let id = overrides
            .environment_id
            .as_deref()
            .unwrap_or(&self.environment_id);
        let mut config = Config::new(id)?;
        if let Some(base) = overrides
            .api_base_url
            .as_deref()
            .or(self.api_base_url.as_deref())
        {
            let url = Url::parse(base).map_err(|_| invalid("the API base URL is not a URL"))?;
            config = config.with_api_base_url(url);
        }
        if let Some(origin) = overrides
            .app_origin
            .as_deref()
            .or(self.app_origin.as_deref())
        {
            config = config.with_app_origin(origin);
        }
        config.validate()?;
        Ok(config)
    }

    /// The file's text.
    pub fn to_toml(&self) -> Result<String, AppError> {
        let body = toml::to_string(self)
            .map_err(|_| AppError::NotConfigured("the settings could not be written".into()))?;
        Ok(format!(
            "# Stepup Desktop: the Dynamic environment this app talks to (its Settings view changes it).\n\
             # STEPUP_ENVIRONMENT_ID, STEPUP_API_BASE_URL and STEPUP_APP_ORIGIN override these.\n{body}"
        ))
    }

    /// Reads a settings file's text: bounded, and every field checked as the form checks it.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let raw: Settings = toml::from_str(text).map_err(|e| {
            // The parser's message names the line; it never holds more than the file does.
            format!("it is not valid: {}", e.message())
        })?;
        Self::validated(
            &raw.environment_id,
            raw.api_base_url.as_deref(),
            raw.app_origin.as_deref(),
        )
        .map_err(|e| e.to_string())
    }
}

/// The environment variables that override the file, one field each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `STEPUP_ENVIRONMENT_ID`.
    pub environment_id: Option<String>,
    /// `STEPUP_API_BASE_URL`.
    pub api_base_url: Option<String>,
    /// `STEPUP_APP_ORIGIN`.
    pub app_origin: Option<String>,
}

impl Overrides {
    /// This process's.
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        Self {
            environment_id: var(ENV_ENVIRONMENT_ID),
            api_base_url: var(ENV_API_BASE_URL),
            app_origin: var(ENV_APP_ORIGIN),
        }
    }

    /// The names of the variables that are set.
    pub fn names(&self) -> Vec<&'static str> {
        [
            (ENV_ENVIRONMENT_ID, &self.environment_id),
            (ENV_API_BASE_URL, &self.api_base_url),
            (ENV_APP_ORIGIN, &self.app_origin),
        ]
        .into_iter()
        .filter(|(_, v)| v.is_some())
        .map(|(name, _)| name)
        .collect()
    }
}

/// What the settings file said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// No file (the first run).
    Missing,
    /// A valid file.
    Valid(Settings),
    /// A file that cannot be used, and why (it is left as it is; setup replaces it).
    Invalid(String),
}

/// Reads the settings file at `path` (bounded; a bad one is [`FileState::Invalid`]).
pub fn read_file(path: &Path) -> FileState {
    use std::io::Read as _;
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return FileState::Missing,
        Err(e) => return FileState::Invalid(format!("it cannot be read ({e})")),
    };
    let mut text = String::new();
    if let Err(e) = file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text) {
        return FileState::Invalid(format!("it cannot be read ({e})"));
    }
    if text.len() as u64 > MAX_FILE_BYTES {
        return FileState::Invalid(format!("it is longer than {MAX_FILE_BYTES} bytes"));
    }
    match Settings::from_toml(&text) {
        Ok(settings) => FileState::Valid(settings),
        Err(reason) => FileState::Invalid(reason),
    }
}

/// Writes `settings` to `path` atomically: a new file next to it (created exclusively, mode
/// 0600, never through an existing name), synced, then renamed over the old one. The folder is
/// created 0700 when missing.
pub fn write_file(path: &Path, settings: &Settings) -> Result<(), AppError> {
    let failed = |e: std::io::Error| {
        AppError::NotConfigured(format!(
            "the settings could not be saved in {} ({e})",
            path.display()
        ))
    };
    let text = settings.to_toml()?;
    let dir = path
        .parent()
        .ok_or_else(|| failed(std::io::Error::other("no folder")))?;
    create_private_dir(dir).map_err(failed)?;
    let (temp, mut file) = create_temp(dir).map_err(failed)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(failed(e));
    }
    // The rename is durable once the folder is synced (best effort: not every OS can).
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// A new, exclusively created file in `dir`, readable by its owner only.
fn create_temp(dir: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut last = std::io::Error::other("no temporary name was free");
    for attempt in 0..16u32 {
        let name = format!(
            ".config.toml.{}.{:08x}",
            std::process::id(),
            nanos.wrapping_add(attempt.wrapping_mul(0x9e37_79b9))
        );
        let temp = dir.join(name);
        match options.open(&temp) {
            Ok(file) => return Ok((temp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

/// Where the configuration comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// `STEPUP_ENVIRONMENT_ID`.
    Environment,
    /// The settings file.
    File,
    /// Nothing yet: the first-run setup is due.
    None,
}

/// The client configuration of a real app: the environment variables over the settings file.
/// Nothing configured is `not_configured` with what to do.
pub fn resolve(overrides: &Overrides, file: &FileState) -> (Source, Result<Config, AppError>) {
    match (file, &overrides.environment_id) {
        (FileState::Valid(settings), _) => {
            let source = if overrides.environment_id.is_some() {
                Source::Environment
            } else {
                Source::File
            };
            (source, settings.to_config(overrides))
        }
        (_, Some(id)) => {
            let settings = Settings {
                environment_id: id.clone(),
                api_base_url: None,
                app_origin: None,
            };
            (Source::Environment, settings.to_config(overrides))
        }
        (FileState::Missing, None) => (
            Source::None,
            Err(AppError::NotConfigured(
                "no environment is set up yet: enter your Dynamic environment id".into(),
            )),
        ),
        (FileState::Invalid(reason), None) => (
            Source::None,
            Err(AppError::NotConfigured(format!(
                "the settings file cannot be used ({reason}): set the environment up again"
            ))),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "2762a57b-faa4-41ce-9f16-abff9300e2c9";

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "stepup-settings-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn uuids_are_told_from_other_ids() {
        assert!(is_uuid(ID));
        assert!(is_uuid("E2E00000-0000-4000-8000-000000000001"));
        for bad in [
            "",
            "2762a57b",
            "2762a57b-faa4-41ce-9f16-abff9300e2c",
            "2762a57b-faa4-41ce-9f16-abff9300e2c9a",
            "2762a57bXfaa4-41ce-9f16-abff9300e2c9",
            "2762a57g-faa4-41ce-9f16-abff9300e2c9",
            "2762a57b-faa4-41ce-9f16-abff9300e2c\u{e9}",
        ] {
            assert!(!is_uuid(bad), "{bad}");
        }
    }

    #[test]
    fn the_form_refuses_what_the_client_would() {
        assert_eq!(
            Settings::validated("nope", None, None)
                .map(|_| ())
                .map_err(|e| e.code()),
            Err("invalid_input")
        );
        assert!(Settings::validated("  ", None, None).is_err());
        assert!(Settings::validated(&"a".repeat(5000), None, None).is_err());
        // Plain http only to this machine; an origin is an origin.
        assert!(Settings::validated(ID, Some("http://api.example/api/v0"), None).is_err());
        assert!(Settings::validated(ID, Some("not a url"), None).is_err());
        assert!(Settings::validated(ID, None, Some("https://wallet.example/path")).is_err());
        assert!(Settings::validated(ID, None, Some("ftp://wallet.example")).is_err());
        let ok = Settings::validated(
            &format!(" {ID} "),
            Some("http://127.0.0.1:8787/api/v0"),
            Some("https://wallet.example/"),
        )
        .expect("valid");
        assert_eq!(ok.environment_id, ID);
        assert_eq!(ok.app_origin.as_deref(), Some("https://wallet.example"));
        assert_eq!(field(Some("  "), "x").expect("blank"), None);
        assert_eq!(field(None, "x").expect("none"), None);
    }

    #[test]
    fn a_file_round_trips_with_mode_0600_and_no_temporary_left() {
        let dir = temp_dir("roundtrip");
        let path = dir.join("stepup-desktop").join("config.toml");
        assert_eq!(read_file(&path), FileState::Missing);
        let settings =
            Settings::validated(ID, Some("http://127.0.0.1:1/api/v0"), None).expect("valid");
        write_file(&path, &settings).expect("written");
        assert_eq!(read_file(&path), FileState::Valid(settings.clone()));
        // Written again over the first: still one file.
        write_file(&path, &settings).expect("rewritten");
        let names: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("listed")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("config.toml")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let dir_mode = std::fs::metadata(path.parent().expect("dir"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(dir_mode & 0o777, 0o700);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_bad_or_huge_file_is_invalid_with_its_reason() {
        let dir = temp_dir("bad");
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("config.toml");
        std::fs::write(&path, "environment_id = \"not-a-uuid\"\n").expect("write");
        assert!(matches!(read_file(&path), FileState::Invalid(r) if r.contains("UUID")));
        std::fs::write(&path, "environment_id = [").expect("write");
        assert!(matches!(read_file(&path), FileState::Invalid(r) if r.contains("not valid")));
        std::fs::write(
            &path,
            format!("environment_id = \"{ID}\"\n# {}\n", "x".repeat(20_000)),
        )
        .expect("write");
        assert!(matches!(read_file(&path), FileState::Invalid(r) if r.contains("longer")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_environment_overrides_the_file_field_by_field() {
        let file = FileState::Valid(
            Settings::validated(
                ID,
                Some("http://127.0.0.1:1/api/v0"),
                Some("http://127.0.0.1:2"),
            )
            .expect("valid"),
        );
        let (source, config) = resolve(&Overrides::default(), &file);
        assert_eq!(source, Source::File);
        let config = config.expect("config");
        assert_eq!(config.environment_id, ID);
        assert_eq!(config.api_base_url.as_str(), "http://127.0.0.1:1/api/v0");

        let other = "e2e00000-0000-4000-8000-000000000001";
        let overrides = Overrides {
            environment_id: Some(other.into()),
            ..Overrides::default()
        };
        let (source, config) = resolve(&overrides, &file);
        assert_eq!(source, Source::Environment);
        let config = config.expect("config");
        assert_eq!(config.environment_id, other);
        assert_eq!(config.api_base_url.as_str(), "http://127.0.0.1:1/api/v0");
        assert_eq!(overrides.names(), vec![ENV_ENVIRONMENT_ID]);

        let (source, config) = resolve(&Overrides::default(), &FileState::Missing);
        assert_eq!(source, Source::None);
        assert_eq!(
            config.map(|_| ()).map_err(|e| e.code()),
            Err("not_configured")
        );
        // A file that cannot be used does not stop the environment's own configuration.
        let overrides = Overrides {
            api_base_url: Some("http://127.0.0.1:3/api/v0".into()),
            ..overrides
        };
        let (source, config) = resolve(&overrides, &FileState::Invalid("x".into()));
        assert_eq!(source, Source::Environment);
        assert_eq!(
            config.expect("config").api_base_url.as_str(),
            "http://127.0.0.1:3/api/v0"
        );
    }
}
