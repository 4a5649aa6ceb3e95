//! The app's state: the [`Backend`] (client, keychain, optional sandbox) that starts in the
//! background, and the [`RequestDesk`] that deep links land on.
//!
//! Start-up never blocks the window: the backend starts on the async runtime, and commands
//! wait for it. A keychain that cannot be opened is kept as an error the UI shows; there is no
//! plaintext fallback.

use crate::cli::{LaunchOptions, SandboxPersona};
use crate::environment::{allow_list_from_env, config_from_settings};
use crate::sandbox::EmbeddedSandbox;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stepup_client::passkey::{DevicePasskey, PasskeyAuthenticator, PasskeyStateStore};
use stepup_client::{Config, OtpVerification, Secret, StepUpClient, VaultError};
use stepup_keychain::{KeychainPasskeyStore, KeychainVault};
use stepup_requests::flow::{embedded_wallet, EmbeddedWallet};
use stepup_requests::views::{AppStatus, UserView};
use stepup_requests::{AppError, ReturnToAllowList, SharedDesk};
use tokio::sync::watch;
use url::Url;

/// The app identifier: keychain service prefix, single-instance name, data dir.
pub const APP_ID: &str = "com.stepup.desktop";
/// How long a command waits for the backend to start.
const STARTUP_WAIT: Duration = Duration::from_secs(60);
/// How long opening the keychain may take.
const KEYCHAIN_OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The started backend.
pub struct Backend {
    /// The environment (project) id.
    pub environment_id: String,
    /// The API base URL.
    pub api_base_url: String,
    /// The client, or why there is none (keychain unavailable or locked, not configured).
    pub client: Result<StepUpClient, AppError>,
    /// The embedded sandbox (`--sandbox`).
    pub sandbox: Option<EmbeddedSandbox>,
    /// A start-up failure other than the client's (the sandbox sign-in).
    pub startup_error: Option<AppError>,
    /// This device's passkey authenticator (its state sealed in the keychain), or why not.
    pub passkey: Result<Arc<dyn PasskeyAuthenticator>, AppError>,
    /// Damaged keychain entries found at start (and removed), as sentences.
    pub keychain_notices: Vec<String>,
    /// The same authenticator when it is the device passkey (its PIN status, removal).
    pub device_passkey: Option<Arc<DevicePasskey>>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("environment_id", &self.environment_id)
            .field("client", &self.client)
            .field("sandbox", &self.sandbox)
            .field("passkey", &self.passkey.as_ref().map(|p| p.kind()))
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// Starts everything the launch options ask for. Never fails: failures are kept and shown.
    pub async fn start(launch: &LaunchOptions) -> Self {
        let started = Instant::now();
        let sandbox = if launch.sandbox {
            Some(EmbeddedSandbox::start(&launch.sandbox_disabled).await)
        } else {
            None
        };
        let (config, sandbox, startup_error) = match sandbox {
            Some(Ok(sandbox)) => {
                let config = Url::parse(&sandbox.base_url())
                    .map_err(|_| {
                        AppError::SandboxFailed(
                            "the sandbox URL is invalid: restart the app".into(),
                        )
                    })
                    .and_then(|url| {
                        Ok(Config::new(sandbox.environment_id())?.with_api_base_url(url))
                    });
                // Passkey ceremonies carry the relying party's web origin.
                let config = config.map(|c| c.with_app_origin(crate::sandbox::APP_ORIGIN));
                (config, Some(sandbox), None)
            }
            Some(Err(error)) => (Err(error.clone()), None, Some(error)),
            None => (config_from_settings().1, None, None),
        };
        let environment_id = config
            .as_ref()
            .map(|c| c.environment_id.clone())
            .unwrap_or_default();
        let api_base_url = config
            .as_ref()
            .map(|c| c.api_base_url.to_string())
            .unwrap_or_default();
        let (passkey, device_passkey) = match &config {
            Ok(config) => match open_passkey(&config.environment_id).await {
                Ok((passkey, device)) => (Ok(passkey), device),
                Err(error) => (Err(error), None),
            },
            Err(error) => (Err(error.clone()), None),
        };
        let (client, keychain) = match config {
            Ok(config) => match open_client(config).await {
                Ok((client, vault)) => (Ok(client), Some(vault)),
                Err(error) => (Err(error), None),
            },
            Err(error) => (Err(error), None),
        };
        let mut backend = Self {
            environment_id,
            api_base_url,
            client,
            sandbox,
            startup_error,
            passkey,
            device_passkey,
            keychain_notices: Vec::new(),
        };
        if let (Some(sandbox), Ok(client)) = (&backend.sandbox, &backend.client) {
            // The embedded sandbox is new at every start: whatever the keychain holds for it
            // belongs to a previous run and can only fail.
            let environment_id = backend.environment_id.clone();
            let fresh = async {
                client.logout().await?;
                // The demo user's passkey is enrolled "on this device": its authenticator
                // state goes to this device's passkey store, as a registration would put it,
                // sealed under the demo PIN the outbox shows.
                if let Some(state) = sandbox.demo_device_passkey_state() {
                    let store: Arc<dyn PasskeyStateStore> =
                        Arc::new(open_passkey_store(&environment_id).await?);
                    let device = DevicePasskey::new(store);
                    let pin = Secret::new(crate::sandbox::DEMO_PASSKEY_PIN.to_owned());
                    stepup_client::run_blocking(KEYCHAIN_OPEN_TIMEOUT, move || {
                        device.import(&state, &pin)
                    })
                    .await
                    .map_err(VaultError::from)??;
                }
                sandbox.sign_in(client, launch.sandbox_persona).await
            };
            if let Err(error) = fresh.await {
                backend.startup_error = Some(error);
            }
        }
        if let Some(vault) = keychain {
            backend.keychain_notices = vault.take_damage_reports();
        }
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis(),
            sandbox = backend.sandbox.is_some(),
            keychain = match &backend.client {
                Ok(_) => "ok",
                Err(e) => e.code(),
            },
            "backend ready"
        );
        backend
    }

    /// The app's status for the main window.
    pub fn status(&self) -> AppStatus {
        let (keychain_error, client_error) = match &self.client {
            Ok(_) => (None, None),
            Err(e) if e.is_keychain() => (Some(e.clone()), None),
            Err(e) => (None, Some(e.clone())),
        };
        AppStatus {
            environment_id: self.environment_id.clone(),
            api_base_url: self.api_base_url.clone(),
            sandbox: self.sandbox.is_some(),
            user: self.client.as_ref().ok().and_then(UserView::of),
            keychain_error,
            startup_error: self.startup_error.clone().or(client_error),
            keychain_notices: self.keychain_notices.clone(),
        }
    }

    /// The signed-in user's embedded wallet (in the sandbox, the demo user's when the session
    /// names none).
    pub fn wallet(&self) -> Option<EmbeddedWallet> {
        let client = self.client.as_ref().ok()?;
        let fallback = self
            .sandbox
            .as_ref()
            .and_then(|s| s.demo_wallet(&client.current_user()?.id));
        embedded_wallet(client, fallback)
    }

    /// The client, or the reason there is none.
    pub fn client(&self) -> Result<&StepUpClient, AppError> {
        self.client.as_ref().map_err(Clone::clone)
    }

    /// This device's passkey authenticator, or the reason there is none.
    pub fn passkey(&self) -> Result<Arc<dyn PasskeyAuthenticator>, AppError> {
        self.passkey.clone()
    }

    /// The device passkey (None where the OS authenticates, e.g. Windows Hello).
    pub fn device_passkey(&self) -> Option<Arc<DevicePasskey>> {
        self.device_passkey.clone()
    }

    /// The sandbox, or `not_sandbox`.
    pub fn sandbox(&self) -> Result<&EmbeddedSandbox, AppError> {
        self.sandbox.as_ref().ok_or(AppError::NotSandbox)
    }

    /// Signs a sandbox persona in, replacing the current user.
    pub async fn switch_sandbox_user(&self, persona: SandboxPersona) -> Result<(), AppError> {
        let sandbox = self.sandbox()?;
        let client = self.client()?;
        client.logout().await?;
        sandbox.sign_in(client, persona).await?;
        Ok(())
    }
}

/// Runs a blocking keychain call off the async threads, within the keychain timeout.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, VaultError> + Send + 'static,
) -> Result<T, AppError> {
    let result = stepup_client::run_blocking(KEYCHAIN_OPEN_TIMEOUT, f)
        .await
        .map_err(VaultError::from)?;
    Ok(result?)
}

async fn open_passkey_store(environment_id: &str) -> Result<KeychainPasskeyStore, AppError> {
    let environment_id = environment_id.to_owned();
    blocking(move || KeychainPasskeyStore::open_for_environment(APP_ID, &environment_id)).await
}

/// This platform's passkey authenticator, and the device passkey when that is what it is.
async fn open_passkey(
    environment_id: &str,
) -> Result<(Arc<dyn PasskeyAuthenticator>, Option<Arc<DevicePasskey>>), AppError> {
    let store: Arc<dyn PasskeyStateStore> = Arc::new(open_passkey_store(environment_id).await?);
    #[cfg(windows)]
    {
        Ok((stepup_client::passkey::platform_authenticator(store), None))
    }
    #[cfg(not(windows))]
    {
        // Where the desktop has polkit (and the package's helper), the OS verifies the user
        // of a new passkey instead of a PIN; a passkey sealed by a PIN keeps its PIN.
        let device = match stepup_client::passkey::Polkit::detect() {
            Some(polkit) => {
                tracing::info!("the device passkey is verified by polkit");
                DevicePasskey::new(store).with_os_verification(Arc::new(polkit))
            }
            None => DevicePasskey::new(store),
        };
        let device = Arc::new(device);
        Ok((device.clone(), Some(device)))
    }
}

async fn open_client(config: Config) -> Result<(StepUpClient, Arc<KeychainVault>), AppError> {
    let vault = Arc::new(
        KeychainVault::open_async(APP_ID, &config.environment_id, KEYCHAIN_OPEN_TIMEOUT).await?,
    );
    let client = StepUpClient::new(config, vault.clone()).await?;
    // The environment's settings are read at start, as the SDK reads them when it
    // initialises, in the background: the window does not wait for them, the dialog reads
    // them (again, if 5 minutes went by) before it lists the methods.
    let reader = client.clone();
    tokio::spawn(async move {
        if let Err(e) = reader.settings().await {
            tracing::warn!(
                error_code = e.code(),
                "the environment's settings could not be read at start"
            );
        }
    });
    Ok((client, vault))
}

/// Everything the commands share.
#[derive(Debug)]
pub struct AppState {
    /// What the process was started with.
    pub launch: LaunchOptions,
    /// Where a deep link's `return_to` may point (read again after setup).
    allow_list: std::sync::Mutex<ReturnToAllowList>,
    /// The started backend, `None` until it has started (commands wait for it).
    backend: watch::Receiver<Option<Arc<Backend>>>,
    /// Where [`AppState::set_backend`] installs it.
    backend_tx: watch::Sender<Option<Arc<Backend>>>,
    /// Links, open requests, approved exports, history: the rules of `stepup-requests`.
    pub desk: SharedDesk,
    /// The email code sent for sign-in, kept for the verify call.
    pub sign_in: tokio::sync::Mutex<Option<OtpVerification>>,
}

impl AppState {
    /// State for a process started with `launch`; the backend is not started yet.
    pub fn new(launch: LaunchOptions) -> Self {
        let (backend_tx, backend) = watch::channel(None);
        Self {
            launch,
            allow_list: std::sync::Mutex::new(allow_list_from_env()),
            backend,
            backend_tx,
            desk: {
                let desk = SharedDesk::default();
                let mut locked = desk.lock();
                locked.set_requester_keys(crate::environment::requester_keys_from_settings());
                locked.set_return_opener(stepup_requests::desk::ReturnOpener(Arc::new(
                    crate::environment::open_in_system_browser,
                )));
                drop(locked);
                desk
            },
            sign_in: tokio::sync::Mutex::new(None),
        }
    }

    /// Where a deep link's `return_to` may point.
    pub fn allow_list(&self) -> ReturnToAllowList {
        self.allow_list
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the allow-list again (the setup saved another app origin).
    pub fn reload_allow_list(&self) {
        *self
            .allow_list
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = allow_list_from_env();
    }

    /// Installs the started backend; commands waiting for it resume.
    pub fn set_backend(&self, backend: Backend) {
        self.backend_tx.send_replace(Some(Arc::new(backend)));
    }

    /// The backend, waiting for it to start.
    pub async fn backend(&self) -> Result<Arc<Backend>, AppError> {
        let mut rx = self.backend.clone();
        let waited = tokio::time::timeout(STARTUP_WAIT, rx.wait_for(Option::is_some)).await;
        match waited {
            Ok(Ok(guard)) => guard.clone().ok_or_else(still_starting),
            _ => Err(still_starting()),
        }
    }

    /// The backend if it has started, without waiting.
    pub fn backend_now(&self) -> Option<Arc<Backend>> {
        self.backend.borrow().clone()
    }
}

fn still_starting() -> AppError {
    AppError::Starting
}
