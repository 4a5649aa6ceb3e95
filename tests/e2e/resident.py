#!/usr/bin/python3
"""The resident app, end to end (run by session.sh inside the private D-Bus session, Xvfb and
an unlocked keyring; openbox is the window manager, started here).

This test plays the desktop's tray host: it owns org.kde.StatusNotifierWatcher on the
session bus, as KDE's or waybar's host does, receives the app's RegisterStatusNotifierItem,
reads the item and its dbusmenu menu, and clicks Open and Quit through dbusmenu's Event, as
a host does when the user clicks (Debian has no headless StatusNotifier host to run instead).

  1. the app starts with its window and registers its tray icon (title, icon, Open/Quit);
  2. Alt+F4 closes the window: the process stays, its webview processes go, memory drops;
  3. a link to the windowless app makes the dialog window, without the focus (the other app
     keeps it) and with the urgency hint; the time from link to dialog is measured;
  4. closing that window cancels its request (the log says so);
  5. tray Open brings the window back focused; a launch from the app menu (a second process
     without a link) does too;
  6. tray Quit ends the process with status 0.
Figures go to $ARTIFACTS/resident.json.
"""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

from desktop import app_window, process_tree, pss_kib, x  # noqa: E402

APP = os.environ["APP"]
ARTIFACTS = os.environ.get("ARTIFACTS", ".")
HERE = os.path.dirname(os.path.abspath(__file__))
LOG = os.path.join(ARTIFACTS, "resident-app.log")
LINK = "com.stepup.desktop://step-up?scope=wallet:sign&requester=Resident%20Test"

WATCHER_XML = """
<node><interface name="org.kde.StatusNotifierWatcher">
  <method name="RegisterStatusNotifierItem"><arg type="s" direction="in"/></method>
  <method name="RegisterStatusNotifierHost"><arg type="s" direction="in"/></method>
  <property name="RegisteredStatusNotifierItems" type="as" access="read"/>
  <property name="IsStatusNotifierHostRegistered" type="b" access="read"/>
  <property name="ProtocolVersion" type="i" access="read"/>
</interface></node>"""

registered = []  # (sender, service)


def fail(message):
    print(f"FAIL resident: {message}", flush=True)
    try:
        with open(LOG, errors="replace") as f:
            print("".join(f.readlines()[-30:]), file=sys.stderr)
    except OSError:
        pass
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def until(what, probe, timeout=20.0):
    deadline = time.time() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.time() > deadline:
            fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def log_text():
    with open(LOG, errors="replace") as f:
        return f.read()


def log_count(pattern):
    return len(re.findall(pattern, log_text()))


def active_window():
    out = x("xdotool", "getactivewindow")
    return int(out) if out else None


def memory(pid):
    procs = process_tree(pid)
    return {"pss_kib": sum(pss_kib(p) for p, _, _ in procs), "processes": sorted(c for _, _, c in procs)}


def serve_watcher():
    """Owns the watcher's name and answers its methods, on a GLib loop of its own."""
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    info = Gio.DBusNodeInfo.new_for_xml(WATCHER_XML).interfaces[0]

    def method(_conn, sender, _path, _iface, name, params, invocation):
        if name == "RegisterStatusNotifierItem":
            registered.append((sender, params.unpack()[0]))
        invocation.return_value(None)

    def get_property(_conn, _sender, _path, _iface, name):
        return {
            "RegisteredStatusNotifierItems": GLib.Variant("as", [s for _, s in registered]),
            "IsStatusNotifierHostRegistered": GLib.Variant("b", True),
            "ProtocolVersion": GLib.Variant("i", 0),
        }[name]

    bus.register_object("/StatusNotifierWatcher", info, method, get_property, None)
    owned = threading.Event()
    Gio.bus_own_name_on_connection(bus, "org.kde.StatusNotifierWatcher", Gio.BusNameOwnerFlags.NONE,
                                   lambda *_: owned.set(), lambda *_: None)
    loop = GLib.MainLoop()
    threading.Thread(target=loop.run, daemon=True).start()
    if not owned.wait(10):
        fail("could not own org.kde.StatusNotifierWatcher")
    return bus


def call(bus, dest, path, iface, method, args, reply):
    return bus.call_sync(dest, path, iface, method, args, GLib.VariantType(reply) if reply else None,
                         Gio.DBusCallFlags.NONE, 5000, None)


def close_window(window):
    """The user closes the window: focus it, Alt+F4 (openbox's Close)."""
    x("xdotool", "windowactivate", "--sync", str(window))
    until("the app window to be active", lambda: active_window() == window)
    x("xdotool", "key", "alt+F4")


def main():
    results = {}
    bus = serve_watcher()
    wm = subprocess.Popen(["openbox", "--sm-disable"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    other = app = None
    try:
        until("openbox", lambda: "_NET_SUPPORTING_WM_CHECK(WINDOW)" in (x("xprop", "-root", "_NET_SUPPORTING_WM_CHECK") or ""))
        env = dict(os.environ, RUST_LOG="info")
        app = subprocess.Popen([APP, "--sandbox"], stdout=subprocess.DEVNULL, stderr=open(LOG, "w"), env=env)

        # 1. The window, and the tray icon registered with the watcher.
        until("the UI", lambda: log_count(r"ui ready") >= 1, 60)
        window = until("the app window", app_window)
        sender, service = until("the tray icon to register", lambda: registered and registered[-1])
        dest = service if service.startswith(":") or "." in service else sender
        props = call(bus, dest, "/StatusNotifierItem", "org.freedesktop.DBus.Properties", "GetAll",
                     GLib.Variant("(s)", ("org.kde.StatusNotifierItem",)), "(a{sv})").unpack()[0]
        check(props["Title"] == "Stepup Desktop", f"tray title: {props.get('Title')}")
        check(props["IconName"] == "stepup-desktop", f"tray icon name: {props.get('IconName')}")
        sizes = [(w, h, len(data)) for w, h, data in props["IconPixmap"]]
        check(sizes == [(32, 32, 32 * 32 * 4), (64, 64, 64 * 64 * 4)], f"tray pixmaps: {sizes}")
        menu_path = props["Menu"]
        revision, layout = call(bus, dest, menu_path, "com.canonical.dbusmenu", "GetLayout",
                                GLib.Variant("(iias)", (0, -1, [])), "(u(ia{sv}av))").unpack()
        entries = [(child[0], child[1].get("label") or child[1].get("type")) for child in layout[2]]
        check(entries == [(1, "_Open Stepup Desktop"), (2, "separator"), (3, "_Quit")], f"tray menu: {entries}")
        results["tray_menu"] = [label for _, label in entries]

        def click(entry):
            call(bus, dest, menu_path, "com.canonical.dbusmenu", "Event",
                 GLib.Variant("(isvu)", (entry, "clicked", GLib.Variant("s", ""), 0)), None)

        time.sleep(3)  # idle
        results["idle_with_window"] = memory(app.pid)

        # 2. Closed: resident without a window or a webview.
        close_window(window)
        until("the window to be destroyed", lambda: log_count(r"the window is gone") >= 1)
        time.sleep(3)
        check(app.poll() is None, f"the app exited with {app.returncode} when its window closed")
        check(app_window() is None, "a window is still shown")
        results["idle_without_window"] = memory(app.pid)
        # The web process (the page) goes with the webview; WebKit keeps its network process
        # for the next one.
        check(not any(c.startswith("WebKitWebProces") for c in results["idle_without_window"]["processes"]),
              f"the web process is left: {results['idle_without_window']['processes']}")
        print(f"resident: with the window {results['idle_with_window']}, without {results['idle_without_window']}", flush=True)
        check(results["idle_without_window"]["pss_kib"] < results["idle_with_window"]["pss_kib"],
              f"no memory returned: {results}")

        # 3. A link to the windowless app while the user types in another app.
        other = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "other-app.py")],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        ready = other.stdout.readline().split()
        check(ready[:1] == ["ready"], f"the other app: {ready}")
        other_window = int(ready[1])
        x("xdotool", "windowactivate", "--sync", str(other_window))
        until("the other app to have the focus", lambda: active_window() == other_window)
        dialogs = log_count(r"dialog ready")
        t0 = int(time.time() * 1000)
        subprocess.run([APP, LINK], timeout=15, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        until("the dialog", lambda: log_count(r"dialog ready") > dialogs)
        at_ms = [int(m) for m in re.findall(r"dialog ready request=\d+ scope=\S+ at_ms=(\d+)", log_text())][-1]
        results["link_to_dialog_windowless_ms"] = at_ms - t0
        window = until("the dialog window", app_window)
        time.sleep(1)
        check(active_window() == other_window, "the dialog window took the focus from the other app")
        state = x("xprop", "-id", str(window), "_NET_WM_STATE") or ""
        check("_NET_WM_STATE_DEMANDS_ATTENTION" in state, f"no urgency hint: {state}")

        # 4. Closing the dialog's window cancels its request.
        close_window(window)
        until("the request to be cancelled", lambda: re.search(r"cancelled=1 .*the window closes|the window closes.*cancelled=1", log_text()))
        until("the window to be destroyed again", lambda: log_count(r"the window is gone") >= 2)
        check(app_window() is None, "a window is still shown after the second close")

        # 5. Tray Open, and a launch from the app menu, bring the window back focused.
        click(1)
        window = until("the window after tray Open", app_window)
        until("the window to have the focus", lambda: active_window() == window)
        close_window(window)
        until("the window to be destroyed a third time", lambda: log_count(r"the window is gone") >= 3)
        subprocess.run([APP], timeout=15, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        window = until("the window after a launch from the app menu", app_window)
        until("that window to have the focus", lambda: active_window() == window)
        check(app.poll() is None, "the app exited")

        # 6. Tray Quit.
        click(3)
        try:
            code = app.wait(10)
        except subprocess.TimeoutExpired:
            fail("tray Quit did not end the app")
        check(code == 0, f"Quit ended the app with status {code}")
        results["quit_status"] = code
    finally:
        for proc in (other, app, wm):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
    with open(os.path.join(ARTIFACTS, "resident.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"ok   resident_app_closes_to_the_tray_and_opens_for_links {json.dumps(results)}", flush=True)


if __name__ == "__main__":
    main()
