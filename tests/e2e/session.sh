#!/usr/bin/env bash
# Inside dbus-run-session + xvfb-run (see run.sh): unlock a keyring, start tauri-driver, run
# the tests, stop tauri-driver.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# With a session bus: the Secret Service the app's keychain uses; `--unlock` reads the
# password from stdin and creates an unlocked login keyring in $XDG_DATA_HOME/keyrings.
if [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  eval "$(echo -n e2e-password | gnome-keyring-daemon --unlock --components=secrets)"
  export GNOME_KEYRING_CONTROL
fi

# A standalone sandbox as the "configured environment" of the sign-in test (the app without
# --sandbox). Another environment id than the embedded sandbox's, so keychain entries differ.
# Next to the app binary (same target dir), else the default debug build. Without one the
# sign-in test fails (it says how to build it); the other tests do not need it.
SANDBOX_BIN="${STEPUP_SANDBOX_BIN:-$(dirname "$APP")/stepup-sandbox}"
[ -x "$SANDBOX_BIN" ] || SANDBOX_BIN="${CARGO_TARGET_DIR:-$HERE/../../target}/debug/stepup-sandbox"
SANDBOX_PID=""
if [ -x "$SANDBOX_BIN" ]; then
  export E2E_SANDBOX_ENV=e2e00000-0000-4000-8000-000000000001
  export E2E_SANDBOX_URL=http://127.0.0.1:18787/api/v0
  "$SANDBOX_BIN" --listen 127.0.0.1:18787 --no-state --seed-demo --env "$E2E_SANDBOX_ENV" >"$ARTIFACTS/sandbox.log" 2>&1 &
  SANDBOX_PID=$!
  export STEPUP_ENVIRONMENT_ID="$E2E_SANDBOX_ENV" STEPUP_API_BASE_URL="$E2E_SANDBOX_URL"
else
  echo "e2e: no standalone sandbox at $SANDBOX_BIN: the sign-in test will fail (cargo build -p stepup-sandbox)" >&2
fi

# The system browser the app opens a link's return_to in: browser.sh (headless chromium) as the
# session's default handler of http and https, where xdg-open looks first.
mkdir -p "$XDG_DATA_HOME/applications"
cat >"$XDG_DATA_HOME/applications/stepup-e2e-browser.desktop" <<DESKTOP
[Desktop Entry]
Type=Application
Name=E2E browser (headless chromium)
Exec=$HERE/browser.sh %u
MimeType=x-scheme-handler/http;x-scheme-handler/https;
NoDisplay=true
DESKTOP
printf '[Default Applications]\nx-scheme-handler/http=stepup-e2e-browser.desktop\nx-scheme-handler/https=stepup-e2e-browser.desktop\n' >"$XDG_CONFIG_HOME/mimeapps.list"
# Every URL the app opens in the system browser, one a line (browser.sh), for the tests that
# drive the opened page themselves (the wallet page, in chromedriver).
export E2E_OPENED_URLS="$XDG_RUNTIME_DIR/opened-urls"
: >"$E2E_OPENED_URLS"
# The page a return_to points at in the tests (run-tests.mjs serves it on loopback).
export STEPUP_RETURN_TO_ORIGINS=http://127.0.0.1:18790

"$TAURI_DRIVER" --port 4444 >>"$ARTIFACTS/tauri-driver.log" 2>&1 &
DRIVER=$!
trap 'kill $DRIVER $SANDBOX_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf http://127.0.0.1:4444/status >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf http://127.0.0.1:4444/status >/dev/null || { echo "e2e: tauri-driver did not start" >&2; cat "$ARTIFACTS/tauri-driver.log" >&2; exit 1; }

cd "$HERE"
status=0
timeout "${E2E_TESTS_TIMEOUT:-720}" node run-tests.mjs "$@" || status=$?
# The first-run setup of a real environment (its own file; the same filter).
timeout 300 node setup-tests.mjs "$@" || status=$?
# The resident app (window closed, tray, a link to the windowless app): its own script, which
# starts the app itself and plays the tray host; the same filter by its name.
RESIDENT=resident_app_closes_to_the_tray_and_opens_for_links
filter="${1:-}"
if { [ "${filter#!}" != "$filter" ] && [[ "$RESIDENT" != *"${filter#!}"* ]]; } \
  || { [ "${filter#!}" = "$filter" ] && [[ "$RESIDENT" == *"$filter"* ]]; }; then
  timeout 180 /usr/bin/python3 "$HERE/resident.py" || status=$?
fi
exit $status
