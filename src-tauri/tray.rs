//! The tray icon (Linux): a StatusNotifierItem with a two-entry menu (Open, Quit), served on
//! the session bus with zbus, the same connection the notifications use.
//!
//! Why not tauri's `tray-icon` feature: on Linux it goes through libayatana-appindicator,
//! loaded at run time, and panics when that library is missing; it also writes the icon to a
//! temporary file for each change. The protocol it speaks is small: the item
//! (`org.kde.StatusNotifierItem`: an id, a title, an icon, Activate) and its menu
//! (`com.canonical.dbusmenu`: a layout and a "clicked" event), registered with the desktop's
//! `org.kde.StatusNotifierWatcher` (KDE Plasma, waybar, the AppIndicator extension of GNOME,
//! XFCE's and LXQt's panels). Where no watcher runs, there is no tray: the app menu's entry
//! (a launch forwarded to this instance) opens the window, and the window has its own Quit.
//! When a watcher appears later (a panel restarts) the item registers again.

use std::collections::HashMap;

use tauri::{AppHandle, Runtime};
use zbus::zvariant::{OwnedObjectPath, OwnedValue, StructureBuilder, Value};

/// The watcher the desktop's tray host runs.
const WATCHER: &str = "org.kde.StatusNotifierWatcher";
const WATCHER_PATH: &str = "/StatusNotifierWatcher";
/// Where the item and its menu are served.
pub const ITEM_PATH: &str = "/StatusNotifierItem";
pub const MENU_PATH: &str = "/StatusNotifierItem/Menu";
/// The menu's entries (dbusmenu ids; 0 is the root).
const OPEN_ID: i32 = 1;
const SEPARATOR_ID: i32 = 2;
const QUIT_ID: i32 = 3;
/// The icon's sizes sent as pixmaps (for hosts that do not find the themed icon).
const PIXMAP_SIZES: [u32; 2] = [32, 64];

/// Serves the item and its menu and registers it with the watcher, off the main thread.
/// Without a session bus, nothing (logged).
pub fn start<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    let spawned = std::thread::Builder::new()
        .name("tray".into())
        .spawn(move || {
            let Some(connection) = crate::notify::connection() else {
                return;
            };
            if let Err(error) = serve(&app, connection) {
                tracing::warn!(%error, "the tray icon could not be served");
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "could not start the tray thread");
    }
}

fn serve<R: Runtime>(
    app: &AppHandle<R>,
    connection: &'static zbus::blocking::Connection,
) -> zbus::Result<()> {
    let pixmaps = app
        .default_window_icon()
        .map(|icon| {
            PIXMAP_SIZES
                .iter()
                .map(|&size| argb_pixmap(icon.rgba(), icon.width(), icon.height(), size))
                .collect()
        })
        .unwrap_or_default();
    let server = connection.object_server();
    server.at(
        ITEM_PATH,
        Item {
            app: app.clone(),
            pixmaps,
        },
    )?;
    server.at(MENU_PATH, Menu { app: app.clone() })?;
    let name = format!("org.kde.StatusNotifierItem-{}-1", std::process::id());
    connection.request_name(name.as_str())?;
    // Watch for the watcher first, then register: one that starts in between is not missed.
    let owners = zbus::blocking::fdo::DBusProxy::new(connection)?
        .receive_name_owner_changed_with_args(&[(0, WATCHER)])?;
    register(connection, &name);
    for signal in owners {
        let Ok(args) = signal.args() else { continue };
        if args.new_owner().is_some() {
            register(connection, &name);
        }
    }
    Ok(())
}

fn register(connection: &zbus::blocking::Connection, name: &str) {
    let call = zbus::blocking::Proxy::new(connection, WATCHER, WATCHER_PATH, WATCHER)
        .and_then(|proxy| proxy.call::<_, _, ()>("RegisterStatusNotifierItem", &(name,)));
    match call {
        Ok(()) => tracing::info!("tray icon registered"),
        Err(error) => tracing::info!(
            %error,
            "no tray host (StatusNotifierWatcher): the app menu's entry opens the window"
        ),
    }
}

/// `icon` (RGBA, `width`×`height`) scaled to `size`×`size` by averaging, as the item's
/// pixmaps are sent: ARGB32 in network byte order.
fn argb_pixmap(rgba: &[u8], width: u32, height: u32, size: u32) -> Pixmap {
    let (w, h) = (width.max(1) as usize, height.max(1) as usize);
    let n = size as usize;
    let mut out = Vec::with_capacity(n * n * 4);
    for y in 0..n {
        let (y0, y1) = (y * h / n, ((y + 1) * h / n).max(y * h / n + 1).min(h));
        for x in 0..n {
            let (x0, x1) = (x * w / n, ((x + 1) * w / n).max(x * w / n + 1).min(w));
            let mut sum = [0u64; 4];
            let mut count = 0u64;
            for yy in y0..y1 {
                for xx in x0..x1 {
                    let i = (yy * w + xx) * 4;
                    if let Some(px) = rgba.get(i..i + 4) {
                        for (s, &c) in sum.iter_mut().zip(px) {
                            *s += u64::from(c);
                        }
                        count += 1;
                    }
                }
            }
            let avg = |c: usize| (sum[c] / count.max(1)) as u8;
            out.extend_from_slice(&[avg(3), avg(0), avg(1), avg(2)]);
        }
    }
    (size as i32, size as i32, out)
}

/// Runs what a tray click asks for on a thread of its own: the bus's thread must not wait for
/// a window to be made.
fn act<R: Runtime>(app: &AppHandle<R>, what: fn(&AppHandle<R>)) {
    let app = app.clone();
    let _ = std::thread::Builder::new()
        .name("tray-action".into())
        .spawn(move || what(&app));
}

/// An icon as the item sends it: width, height, ARGB32 pixels.
type Pixmap = (i32, i32, Vec<u8>);

/// The item (`org.kde.StatusNotifierItem`).
struct Item<R: Runtime> {
    app: AppHandle<R>,
    pixmaps: Vec<Pixmap>,
}

#[zbus::interface(name = "org.kde.StatusNotifierItem")]
impl<R: Runtime> Item<R> {
    /// A click on the icon: the window comes forward.
    fn activate(&self, _x: i32, _y: i32) {
        tracing::info!("tray: activate");
        act(&self.app, crate::resident::bring_forward);
    }

    fn secondary_activate(&self, _x: i32, _y: i32) {
        act(&self.app, crate::resident::bring_forward);
    }

    /// The host shows the menu itself (from `Menu`).
    fn context_menu(&self, _x: i32, _y: i32) {}

    fn scroll(&self, _delta: i32, _orientation: String) {}

    #[zbus(property)]
    fn category(&self) -> &str {
        "ApplicationStatus"
    }

    #[zbus(property)]
    fn id(&self) -> &str {
        "stepup-desktop"
    }

    #[zbus(property)]
    fn title(&self) -> &str {
        "Stepup Desktop"
    }

    #[zbus(property)]
    fn status(&self) -> &str {
        "Active"
    }

    #[zbus(property)]
    fn window_id(&self) -> i32 {
        0
    }

    #[zbus(property)]
    fn icon_name(&self) -> &str {
        "stepup-desktop"
    }

    #[zbus(property)]
    fn icon_pixmap(&self) -> Vec<Pixmap> {
        self.pixmaps.clone()
    }

    #[zbus(property)]
    fn tool_tip(&self) -> (String, Vec<Pixmap>, String, String) {
        (
            "stepup-desktop".into(),
            Vec::new(),
            "Stepup Desktop".into(),
            "Waits for step-up requests".into(),
        )
    }

    #[zbus(property)]
    fn item_is_menu(&self) -> bool {
        false
    }

    #[zbus(property)]
    fn menu(&self) -> OwnedObjectPath {
        OwnedObjectPath::try_from(MENU_PATH).unwrap_or_default()
    }
}

/// The item's menu (`com.canonical.dbusmenu`): Open, a separator, Quit.
struct Menu<R: Runtime> {
    app: AppHandle<R>,
}

/// One entry's properties.
fn entry(id: i32) -> HashMap<String, Value<'static>> {
    let mut props = HashMap::new();
    match id {
        OPEN_ID => {
            props.insert("label".into(), Value::from("_Open Stepup Desktop"));
        }
        SEPARATOR_ID => {
            props.insert("type".into(), Value::from("separator"));
        }
        QUIT_ID => {
            props.insert("label".into(), Value::from("_Quit"));
        }
        _ => {
            props.insert("children-display".into(), Value::from("submenu"));
        }
    }
    props
}

/// A layout node: `(id, properties, children)`, children as variants of the same.
type Node = (i32, HashMap<String, Value<'static>>, Vec<OwnedValue>);

fn node(id: i32, children: Vec<OwnedValue>) -> Node {
    (id, entry(id), children)
}

fn child(id: i32) -> Option<OwnedValue> {
    let structure = StructureBuilder::new()
        .add_field(id)
        .add_field(entry(id))
        .add_field(Vec::<Value<'static>>::new())
        .build()
        .ok()?;
    OwnedValue::try_from(Value::Structure(structure)).ok()
}

#[zbus::interface(name = "com.canonical.dbusmenu")]
impl<R: Runtime> Menu<R> {
    /// The menu's layout from `parent_id` (the root, or an entry: it has no children).
    fn get_layout(
        &self,
        parent_id: i32,
        recursion_depth: i32,
        _property_names: Vec<String>,
    ) -> (u32, Node) {
        let children = if parent_id == 0 && recursion_depth != 0 {
            [OPEN_ID, SEPARATOR_ID, QUIT_ID]
                .into_iter()
                .filter_map(child)
                .collect()
        } else {
            Vec::new()
        };
        (1, node(parent_id, children))
    }

    fn get_group_properties(
        &self,
        ids: Vec<i32>,
        _property_names: Vec<String>,
    ) -> Vec<(i32, HashMap<String, Value<'static>>)> {
        let ids = if ids.is_empty() {
            vec![0, OPEN_ID, SEPARATOR_ID, QUIT_ID]
        } else {
            ids
        };
        ids.into_iter()
            .filter(|id| (0..=QUIT_ID).contains(id))
            .take(8)
            .map(|id| (id, entry(id)))
            .collect()
    }

    fn get_property(&self, id: i32, name: String) -> zbus::fdo::Result<OwnedValue> {
        entry(id)
            .remove(&name)
            .and_then(|value| OwnedValue::try_from(value).ok())
            .ok_or_else(|| zbus::fdo::Error::InvalidArgs(format!("no property {name}")))
    }

    /// A click on an entry.
    fn event(&self, id: i32, event_id: String, _data: OwnedValue, _timestamp: u32) {
        if event_id != "clicked" {
            return;
        }
        match id {
            OPEN_ID => {
                tracing::info!("tray: open");
                act(&self.app, crate::resident::bring_forward);
            }
            QUIT_ID => {
                tracing::info!("tray: quit");
                act(&self.app, crate::resident::quit);
            }
            _ => {}
        }
    }

    fn event_group(&self, events: Vec<(i32, String, OwnedValue, u32)>) -> Vec<i32> {
        for (id, event_id, data, timestamp) in events.into_iter().take(8) {
            self.event(id, event_id, data, timestamp);
        }
        Vec::new()
    }

    fn about_to_show(&self, _id: i32) -> bool {
        false
    }

    fn about_to_show_group(&self, _ids: Vec<i32>) -> (Vec<i32>, Vec<i32>) {
        (Vec::new(), Vec::new())
    }

    #[zbus(property)]
    fn version(&self) -> u32 {
        3
    }

    #[zbus(property)]
    fn text_direction(&self) -> &str {
        "ltr"
    }

    #[zbus(property)]
    fn status(&self) -> &str {
        "normal"
    }

    #[zbus(property)]
    fn icon_theme_path(&self) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pixmap_is_argb_in_network_order_and_averaged() {
        // 2×2 RGBA: red, green, blue, white (all opaque) scaled to 1×1 and kept at 2×2.
        let rgba = [
            255, 0, 0, 255, 0, 255, 0, 255, //
            0, 0, 255, 255, 255, 255, 255, 255,
        ];
        let (w, h, one) = argb_pixmap(&rgba, 2, 2, 1);
        assert_eq!((w, h), (1, 1));
        assert_eq!(one, vec![255, 127, 127, 127]);
        let (_, _, same) = argb_pixmap(&rgba, 2, 2, 2);
        assert_eq!(&same[..4], &[255, 255, 0, 0], "red as A R G B");
        assert_eq!(same.len(), 16);
        // A short buffer (hostile or broken) does not panic.
        assert_eq!(argb_pixmap(&rgba[..3], 2, 2, 2).2.len(), 16);
    }
}
