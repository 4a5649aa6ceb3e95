//! The desktop notification for a request that arrived while the user was in another app
//! (Linux: `org.freedesktop.Notifications` on the session bus).
//!
//! The window never takes the focus when a link arrives (see `present_without_stealing_focus`):
//! a keystroke meant for another app must not land in the dialog. The notification is how the
//! user learns that a request waits. Clicking it (its default action, "Review the request") is
//! the user's own move to the app, so only then is the window raised and focused. One
//! notification at a time: a new request replaces the shown one, and it is withdrawn when the
//! window gains the focus.
//!
//! Without a session bus or a notification server nothing is shown and the request still
//! waits in the window (with its urgency hint); that is logged, never an error.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use tauri::{AppHandle, Runtime};

/// The notification server's name, path and interface.
const DESTINATION: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";
const INTERFACE: &str = "org.freedesktop.Notifications";
/// The action a click on the notification's body invokes.
const DEFAULT_ACTION: &str = "default";

/// The id of the notification on screen (0: none).
static SHOWN: AtomicU32 = AtomicU32::new(0);
/// The session-bus connection, made on first use; `None` when there is no bus.
static CONNECTION: OnceLock<Option<zbus::blocking::Connection>> = OnceLock::new();
/// Whether the thread that listens for clicks runs.
static LISTENING: Mutex<bool> = Mutex::new(false);

/// The app's session-bus connection (the notifications and the tray icon share it).
pub(crate) fn connection() -> Option<&'static zbus::blocking::Connection> {
    CONNECTION
        .get_or_init(|| match zbus::blocking::Connection::session() {
            Ok(connection) => Some(connection),
            Err(error) => {
                tracing::info!(%error, "no session bus: requests are not notified");
                None
            }
        })
        .as_ref()
}

fn proxy(connection: &zbus::blocking::Connection) -> zbus::Result<zbus::blocking::Proxy<'_>> {
    zbus::blocking::Proxy::new(connection, DESTINATION, PATH, INTERFACE)
}

/// Shows (or replaces) the notification, off the caller's thread: a slow or absent server
/// must not hold the link's delivery.
pub fn show<R: Runtime>(app: &AppHandle<R>, title: String, body: String) {
    let app = app.clone();
    let spawned = std::thread::Builder::new()
        .name("notify".into())
        .spawn(move || {
            let Some(connection) = connection() else {
                return;
            };
            start_listening(&app, connection);
            let hints: std::collections::HashMap<&str, zbus::zvariant::Value<'_>> = [
                ("urgency", zbus::zvariant::Value::U8(1)),
                (
                    "desktop-entry",
                    zbus::zvariant::Value::from("stepup-desktop"),
                ),
                ("category", zbus::zvariant::Value::from("im.received")),
            ]
            .into_iter()
            .collect();
            let replaces = SHOWN.load(Ordering::SeqCst);
            let call = proxy(connection).and_then(|proxy| {
                proxy.call::<_, _, u32>(
                    "Notify",
                    &(
                        "Stepup Desktop",
                        replaces,
                        "dialog-password",
                        title.as_str(),
                        body.as_str(),
                        vec![DEFAULT_ACTION, "Review the request"],
                        hints,
                        -1i32,
                    ),
                )
            });
            match call {
                Ok(id) => {
                    SHOWN.store(id, Ordering::SeqCst);
                    tracing::info!(id, "request notified");
                }
                Err(error) => tracing::info!(%error, "the request could not be notified"),
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "could not start the notification thread");
    }
}

/// Withdraws the shown notification (the user came to the window).
pub fn withdraw() {
    let id = SHOWN.swap(0, Ordering::SeqCst);
    if id == 0 {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("notify-close".into())
        .spawn(move || {
            if let Some(connection) = connection() {
                let _ = proxy(connection)
                    .and_then(|proxy| proxy.call::<_, _, ()>("CloseNotification", &(id,)));
            }
        });
}

/// Starts, once, the thread that turns a click on our notification into the window's focus.
fn start_listening<R: Runtime>(
    app: &AppHandle<R>,
    connection: &'static zbus::blocking::Connection,
) {
    let mut listening = LISTENING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if *listening {
        return;
    }
    let signals = match proxy(connection).and_then(|proxy| proxy.receive_signal("ActionInvoked")) {
        Ok(signals) => signals,
        Err(error) => {
            tracing::info!(%error, "notification clicks cannot be heard");
            return;
        }
    };
    let app = app.clone();
    let spawned = std::thread::Builder::new()
        .name("notify-actions".into())
        .spawn(move || {
            for message in signals {
                let Ok((id, action)) = message.body().deserialize::<(u32, String)>() else {
                    continue;
                };
                if id == 0 || id != SHOWN.load(Ordering::SeqCst) || action != DEFAULT_ACTION {
                    continue;
                }
                tracing::info!(id, "the notification was clicked: the window comes forward");
                SHOWN.store(0, Ordering::SeqCst);
                // The window is made if it was closed meanwhile.
                crate::resident::bring_forward(&app);
            }
        });
    match spawned {
        Ok(_) => *listening = true,
        Err(error) => tracing::warn!(%error, "could not start the notification listener"),
    }
}
