#!/usr/bin/env bash
# Runs the end-to-end suite against a built binary: a real window under Xvfb, driven over
# WebDriver (tauri-driver + WebKitWebDriver), inside a private D-Bus session with an unlocked
# gnome-keyring, with every XDG directory isolated.
#
#   tests/e2e/run.sh [path/to/stepup-desktop]     (default: target/debug/stepup-desktop)
#   E2E_FILTER=recovery tests/e2e/run.sh          only the tests whose name contains "recovery"
#
# Needs: xvfb xauth webkit2gtk-driver gnome-keyring dbus-daemon curl, and for the a11y test
# at-spi2-core gir1.2-atspi-2.0 python3-gi (apt), tauri-driver
# (cargo install tauri-driver --locked), node + `npm ci` in tests/e2e: tests/e2e/setup.sh
# installs whatever is missing (it is run here when something is).
# Screenshots and logs go to ci-artifacts/e2e/.
set -euo pipefail
# One suite at a time on a machine: the sessions share fixed loopback ports (tauri-driver 4444,
# the sandbox 18787, the return page 18790) and the single-instance app, so a second run waits.
# The lock is held by flock itself (-o: not inherited), so that a daemon the session leaves
# behind (an Xvfb whose xvfb-run was killed) cannot hold every later run.
if [ -z "${STEPUP_E2E_LOCKED:-}" ]; then
  export STEPUP_E2E_LOCKED=1
  exec flock -o "${TMPDIR:-/tmp}/stepup-e2e-suite.lock" bash "$0" "$@"
fi
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
for tool in xvfb-run dbus-run-session gnome-keyring-daemon WebKitWebDriver curl node xclip /usr/libexec/at-spi-bus-launcher chromium chromedriver openbox dunst xdotool; do
  command -v "$tool" >/dev/null || { echo "e2e: $tool is missing: running tests/e2e/setup.sh"; "$ROOT/tests/e2e/setup.sh"; break; }
done
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
if [ -z "${1:-}" ]; then
  # No binary given: make sure the debug builds are current (a no-op when they are): the app,
  # and the standalone sandbox the sign-in test signs in to.
  (cd "$ROOT" && cargo build -p stepup-desktop -p stepup-sandbox --locked)
fi
APP="$(realpath "${1:-$TARGET/debug/stepup-desktop}")"
[ -x "$APP" ] || { echo "e2e: no executable at $APP: build it first (cargo build -p stepup-desktop)" >&2; exit 2; }
TAURI_DRIVER="${TAURI_DRIVER:-$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")}"
# node_modules older than the lock file (a pull added a package): setup.sh installs it again.
if [ ! -x "$TAURI_DRIVER" ] || [ ! -d "$ROOT/tests/e2e/node_modules/selenium-webdriver" ] \
  || [ "$ROOT/tests/e2e/package-lock.json" -nt "$ROOT/tests/e2e/node_modules/.package-lock.json" ]; then
  "$ROOT/tests/e2e/setup.sh"
  TAURI_DRIVER="$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")"
fi

ARTIFACTS="$ROOT/ci-artifacts/e2e"
ISO="$ROOT/target/e2e-home"
# Wipe at the start, not in a trap: at-spi/dconf may write here just after the session ends.
rm -rf "$ISO" "$ARTIFACTS"
mkdir -p "$ISO"/{data,config,cache,runtime} "$ARTIFACTS"
chmod 700 "$ISO/runtime"
export HOME="$ISO" XDG_DATA_HOME="$ISO/data" XDG_CONFIG_HOME="$ISO/config" XDG_CACHE_HOME="$ISO/cache" XDG_RUNTIME_DIR="$ISO/runtime"
# The AT-SPI bridge stays on (no NO_AT_BRIDGE): the session bus starts the accessibility bus
# (org.a11y.Bus) when the app asks for it, and the a11y test reads the app's tree from it.
export GSETTINGS_BACKEND=memory
export APP ARTIFACTS TAURI_DRIVER
unset DBUS_SESSION_BUS_ADDRESS DISPLAY


status=0
# Everything but the no-keychain test: a private session bus with an unlocked gnome-keyring.
timeout "${E2E_TIMEOUT:-1260}" dbus-run-session -- \
  xvfb-run -a -s "-screen 0 1280x800x24" "$ROOT/tests/e2e/session.sh" "${E2E_FILTER:-!no_keychain}" || status=$?
# The no-keychain test: no session bus at all, hence no Secret Service.
if [ -z "${E2E_FILTER:-}" ]; then
  # No session bus, so no accessibility bus for the bridge to reach: keep it off there.
  NO_AT_BRIDGE=1 timeout 120 xvfb-run -a -s "-screen 0 1280x800x24" "$ROOT/tests/e2e/session.sh" no_keychain || status=$?
fi
echo "e2e: screenshots and logs in $ARTIFACTS"
exit $status
