#!/usr/bin/env bash
# The demo: builds the desktop app and starts it with its embedded sandbox (`--sandbox`): a
# local step-up authority on 127.0.0.1, a signed-in demo user, and an outbox panel with every
# code the sandbox "sends". Open a link from another terminal to see the dialog:
#
#   target/debug/stepup-desktop 'com.stepup.desktop://step-up?scope=wallet:export&requester=Acme%20Wallet'
#
# Needs a desktop session (a display, a D-Bus session bus and a keyring such as GNOME Keyring).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "demo: no display. Run it in a desktop session, or headless for a look:" >&2
  echo "  dbus-run-session -- xvfb-run -a sh -c 'echo -n pw | gnome-keyring-daemon --unlock --components=secrets; target/debug/stepup-desktop --sandbox'" >&2
  exit 2
fi
[ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || echo "demo: no D-Bus session bus: links will open a second window and the keychain is unavailable" >&2
cd "$ROOT"
cargo build -p stepup-desktop --locked
exec target/debug/stepup-desktop --sandbox "$@"
