//! The resident app: small when idle, a window only while one is needed.
//!
//! Closing the window does not quit the app: it keeps running in the background (a tray icon
//! where the desktop has a status-notifier host, the app menu's entry otherwise) and its
//! webview, the bulk of its memory, is destroyed with the window. What the window showed ends
//! as if cancelled ([`stepup_requests::RequestDesk::ui_closed`]). A link creates the window
//! again on demand, without taking the focus (the notification calls the user to it); the
//! tray's Open, the notification's click and a launch from the app menu create it focused.
//! Quit (the tray, or the window's own Quit) is the one way out, besides the session ending.
//!
//! The window is made from the `main` entry of `tauri.conf.json` (`create: false` there: this
//! module makes it, at start unless `--background`, and whenever it is wanted again).

use std::sync::atomic::{AtomicBool, Ordering};

use tauri::{AppHandle, Manager, RunEvent, Runtime, WebviewWindow, WindowEvent};

use stepup_requests::wording::notification_text;

use crate::state::AppState;
use crate::MAIN_WINDOW;

/// Between the window's close request and its destruction: a new window of the same label
/// cannot be made yet, so what arrives waits on the desk and the window is made once the old
/// one is gone.
static CLOSING: AtomicBool = AtomicBool::new(false);

/// The app's window: the one open, else a new one made from the configuration. `focus`: the
/// user asked for it (tray, app menu, notification); a link's window never takes the focus.
pub fn main_window<R: Runtime>(app: &AppHandle<R>, focus: bool) -> Option<WebviewWindow<R>> {
    if let Some(window) = app.get_webview_window(MAIN_WINDOW) {
        return Some(window);
    }
    let Some(config) = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN_WINDOW)
        .cloned()
    else {
        tracing::error!("no main window in the configuration");
        return None;
    };
    let started = std::time::Instant::now();
    match tauri::WebviewWindowBuilder::from_config(app, &config)
        .and_then(|builder| builder.focused(focus).build())
    {
        Ok(window) => {
            tracing::info!(
                focus,
                ms = started.elapsed().as_millis() as u64,
                "window opened"
            );
            Some(window)
        }
        Err(error) => {
            tracing::error!(%error, "could not open the window");
            None
        }
    }
}

/// The user asked for the window (tray Open, a launch without a link, the notification's
/// click): shown, raised and focused, made first if there is none.
pub fn bring_forward<R: Runtime>(app: &AppHandle<R>) {
    if CLOSING.load(Ordering::SeqCst) {
        // It is being destroyed: the new one is made when it is gone.
        WANTED.store(true, Ordering::SeqCst);
        return;
    }
    if let Some(window) = main_window(app, true) {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

/// The user asked for the window while the old one was still closing.
static WANTED: AtomicBool = AtomicBool::new(false);

/// A request is waiting: the window is made if there is none (unfocused), shown, and the
/// user's attention drawn to it; `notification` goes out when the window is not focused.
pub fn present_request<R: Runtime>(app: &AppHandle<R>, notification: Option<(String, String)>) {
    if CLOSING.load(Ordering::SeqCst) {
        // The links wait on the desk; the window for them is made once the old one is gone.
        return;
    }
    let Some(window) = main_window(app, false) else {
        return;
    };
    let focused = present_without_stealing_focus(&window);
    #[cfg(target_os = "linux")]
    if let (false, Some((title, body))) = (focused, notification) {
        crate::notify::show(app, title, body);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (focused, notification);
}

/// A request arrived while the user may be typing elsewhere: the window is shown if it was
/// hidden, but never given the focus (a keystroke meant for another app must not land in the
/// dialog); the desktop is asked to draw the user's attention to it instead (a taskbar
/// highlight or an urgency hint). The dialog waits until the user comes to it.
/// Returns whether the window had the focus already (then nothing is done).
fn present_without_stealing_focus<R: Runtime>(window: &WebviewWindow<R>) -> bool {
    if window.is_focused().unwrap_or(false) {
        return true;
    }
    if !window.is_visible().unwrap_or(true) {
        let _ = window.show();
    }
    let attention = window
        .request_user_attention(Some(tauri::UserAttentionType::Informational))
        .is_ok();
    tracing::info!(attention, "request shown without taking the focus");
    false
}

/// The app's run loop events: what keeps it resident.
pub fn on_run_event<R: Runtime>(app: &AppHandle<R>, event: RunEvent) {
    match event {
        // The last window closed (no exit code): stay resident. `app.exit(code)` (Quit)
        // carries a code and is let through.
        RunEvent::ExitRequested {
            code: None, api, ..
        } => {
            api.prevent_exit();
            tracing::info!("no window: the app stays resident until Quit");
        }
        RunEvent::WindowEvent { label, event, .. } if label == MAIN_WINDOW => {
            window_event(app, &event)
        }
        _ => {}
    }
}

fn window_event<R: Runtime>(app: &AppHandle<R>, event: &WindowEvent) {
    match event {
        // The user came to the window: the notification that called them is done.
        WindowEvent::Focused(true) => {
            #[cfg(target_os = "linux")]
            crate::notify::withdraw();
        }
        WindowEvent::CloseRequested { .. } => {
            CLOSING.store(true, Ordering::SeqCst);
            let state = app.state::<AppState>();
            let cancelled = state.desk.lock().ui_closed(crate::commands::now_ms());
            #[cfg(target_os = "linux")]
            crate::notify::withdraw();
            tracing::info!(
                cancelled,
                "the window closes: its requests end as cancelled"
            );
        }
        WindowEvent::Destroyed => {
            CLOSING.store(false, Ordering::SeqCst);
            tracing::info!("the window is gone: resident without a webview");
            let waiting = {
                let desk = app.state::<AppState>();
                let desk = desk.desk.lock();
                desk.has_waiting()
                    .then(|| desk.newest_waiting().and_then(notification_text))
            };
            if WANTED.swap(false, Ordering::SeqCst) {
                bring_forward(app);
            } else if let Some(notification) = waiting {
                // Links came while it closed: they get a window of their own.
                present_request(app, notification);
            }
        }
        _ => {}
    }
}

/// Quit: the app ends (the tray's Quit, the window's Quit button).
pub fn quit<R: Runtime>(app: &AppHandle<R>) {
    tracing::info!("quit");
    app.exit(0);
}
