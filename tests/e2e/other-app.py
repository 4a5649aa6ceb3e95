#!/usr/bin/env python3
"""Another app the user is typing in, for the focus test: a GTK window with one text field.

Prints `ready <xid>` once it is shown, and `entered <text>` each time Enter is pressed in the
field, so that the test can prove where the keystrokes went. Exits on SIGTERM or stdin EOF.
"""
import signal
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("GdkX11", "3.0")
from gi.repository import GdkX11, GLib, Gtk  # noqa: E402,F401

TITLE = "E2E other app"


def main() -> None:
    window = Gtk.Window(title=TITLE)
    window.set_default_size(420, 120)
    entry = Gtk.Entry()
    entry.get_accessible().set_name("Notes")
    window.add(entry)

    def entered(field: Gtk.Entry) -> None:
        print(f"entered {field.get_text()}", flush=True)
        field.set_text("")

    entry.connect("activate", entered)
    window.connect("destroy", Gtk.main_quit)

    def shown(*_args) -> None:
        print(f"ready {window.get_window().get_xid()}", flush=True)

    window.connect("map-event", shown)
    window.show_all()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, Gtk.main_quit)
    GLib.io_add_watch(sys.stdin, GLib.IO_HUP | GLib.IO_ERR, lambda *_: Gtk.main_quit())
    Gtk.main()


if __name__ == "__main__":
    main()
