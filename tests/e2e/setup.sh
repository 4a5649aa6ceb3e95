#!/usr/bin/env bash
# Installs what building, running and end-to-end testing the desktop app needs on
# Debian/Ubuntu: the WebKitGTK build packages, Xvfb, WebKitWebDriver, gnome-keyring, D-Bus,
# tauri-driver, and the node WebDriver client. Idempotent: only what is missing is installed.
#
#   tests/e2e/setup.sh            (as root, or with sudo available)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PACKAGES=(
  # build (Tauri 2 on Linux)
  build-essential pkg-config libwebkit2gtk-4.1-dev libxdo-dev libayatana-appindicator3-dev librsvg2-dev libssl-dev
  # run and test headless
  xvfb xauth webkit2gtk-driver dbus-daemon gnome-keyring x11-utils xdg-utils desktop-file-utils imagemagick curl xclip
  # the accessibility test (a11y.py, run by /usr/bin/python3): the AT-SPI bus and its Python bindings
  at-spi2-core gir1.2-atspi-2.0 python3-gi
  # the focus test: a window manager that keeps focus where the user is, a real notification
  # server, xdotool to type into another app (a GTK window: gir1.2-gtk-3.0)
  openbox dunst xdotool gir1.2-gtk-3.0
  # the system browser a link's return_to opens in (tests/e2e/browser.sh: headless, loopback only),
  # and its WebDriver, which drives the wallet page the app opens there
  chromium chromium-driver
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if ! command -v tauri-driver >/dev/null && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "setup: cargo install tauri-driver --locked (about 2 minutes)"
  cargo install tauri-driver --version '^2' --locked
fi
command -v node >/dev/null || { echo "setup: node (>= 18) is needed for the WebDriver client" >&2; exit 1; }
if [ ! -d "$ROOT/tests/e2e/node_modules/selenium-webdriver" ] \
  || [ "$ROOT/tests/e2e/package-lock.json" -nt "$ROOT/tests/e2e/node_modules/.package-lock.json" ]; then
  (cd "$ROOT/tests/e2e" && npm ci --no-audit --no-fund)
fi
