#!/usr/bin/env bash
# The installed package, end to end (`cargo xtask test` runs it after the app's E2E):
#
#   tests/e2e/package.sh path/to/stepup-desktop_<version>_amd64.deb [path/to/stepup-sandbox]
#
# 1. `apt-get install ./….deb` into THIS machine's system (root required: the CI machine is
#    a throw-away VM; a copy installed before is purged first). Its dependencies must already
#    be installed (setup.sh puts them there), so apt fetches nothing.
# 2. The package's files: the binary, the desktop entry (Exec=stepup-desktop %u, the scheme
#    handler, no NoDisplay), the hicolor icons; `desktop-file-validate`; the handler is the
#    default for x-scheme-handler/com.stepup.desktop (`xdg-mime query default`).
# 3. Under Xvfb with a private D-Bus session and gnome-keyring, every XDG directory isolated,
#    a standalone sandbox on loopback as the environment (written in the app's config.toml,
#    as the first-run setup writes it): `gio open LINK` starts the INSTALLED binary cold with
#    the link, its window shows the dialog (the app's log); `xdg-open LINK2` reaches the
#    running instance (the second process forwards and exits; one instance stays).
# 4. `apt-get remove --purge`: every file the package installed is gone, the handler too.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SCHEME=com.stepup.desktop
ENTRY=/usr/share/applications/stepup-desktop.desktop
BIN=/usr/bin/stepup-desktop
PKG=stepup-desktop

if [ "${1:-}" = "--in-session" ]; then
  # ---- inside dbus-run-session + xvfb-run ------------------------------------------------
  eval "$(echo -n pkg-test | gnome-keyring-daemon --unlock --components=secrets)"
  export GNOME_KEYRING_CONTROL
  LOG="$ARTIFACTS/app.log"
  : >"$LOG"
  ENV_ID=e2e00000-0000-4000-8000-0000000000d1
  "$SANDBOX_BIN" --listen 127.0.0.1:18797 --no-state --seed-demo --env "$ENV_ID" >"$ARTIFACTS/sandbox.log" 2>&1 &
  SANDBOX_PID=$!
  APP_PID=""
  cleanup() {
    [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null || true
    kill "$SANDBOX_PID" 2>/dev/null || true
  }
  trap cleanup EXIT
  mkdir -p "$XDG_CONFIG_HOME/stepup-desktop"
  printf 'environment_id = "%s"\napi_base_url = "http://127.0.0.1:18797/api/v0"\n' "$ENV_ID" \
    >"$XDG_CONFIG_HOME/stepup-desktop/config.toml"
  chmod 600 "$XDG_CONFIG_HOME/stepup-desktop/config.toml"

  wait_log() { # pattern count timeout_s what
    local n
    for _ in $(seq $(($3 * 10))); do
      n=$(grep -cE -- "$1" "$LOG" || true)
      [ "$n" -ge "$2" ] && return 0
      sleep 0.1
    done
    echo "package test: FAIL: $4 (no '$1' x$2 in the app log within $3 s)" >&2
    tail -40 "$LOG" >&2
    exit 1
  }
  owner_pid() {
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.GetConnectionUnixProcessID "string:$SCHEME.SingleInstance" 2>/dev/null \
      | awk '/uint32/ {print $2}'
  }

  LINK1="$SCHEME://step-up?scope=wallet:export&requester=Installed%20Package%20Test"
  LINK2="$SCHEME://step-up?scope=credential:link&requester=Installed%20Package%20Test"
  started=$(date +%s%N)
  # Cold: no instance runs; the OS starts the handler's Exec with the link. The app's stderr
  # is gio's (gio returns once it has launched it).
  RUST_LOG=info gio open "$LINK1" 2>>"$LOG"
  # A cold start files the link until the window is ready ("queued"), then the UI takes it.
  wait_log "deep link (received|queued)" 1 30 "the installed app did not receive the cold-start link"
  wait_log "the dialog shows a request" 1 30 "the window did not show the dialog for the cold-start link"
  cold_ms=$(( ($(date +%s%N) - started) / 1000000 ))
  APP_PID="$(owner_pid)"
  [ -n "$APP_PID" ] || { echo "package test: FAIL: no process owns $SCHEME.SingleInstance" >&2; exit 1; }
  exe="$(readlink "/proc/$APP_PID/exe")"
  [ "$exe" = "$BIN" ] || { echo "package test: FAIL: the running instance is $exe, not $BIN" >&2; exit 1; }
  tr '\0' '\n' <"/proc/$APP_PID/cmdline" | grep -qxF "$LINK1" \
    || { echo "package test: FAIL: the instance was not started with the link" >&2; exit 1; }
  grep -q "installed by its package" "$LOG" \
    || { echo "package test: FAIL: the installed app did not see itself as installed" >&2; exit 1; }
  [ ! -e "$XDG_DATA_HOME/applications/stepup-desktop-handler.desktop" ] \
    || { echo "package test: FAIL: the installed app wrote a per-user handler" >&2; exit 1; }
  echo "package test: cold start through the desktop entry → dialog in ${cold_ms} ms (pid $APP_PID, $exe)"

  # Warm: generic xdg-open (no desktop environment set) runs the entry's Exec; the second
  # process forwards the link over D-Bus to the running instance and exits 0.
  started=$(date +%s%N)
  xdg-open "$LINK2" 2>>"$LOG"
  wait_log "deep link received" 1 20 "the running instance did not receive the second link"
  warm_ms=$(( ($(date +%s%N) - started) / 1000000 ))
  [ "$(owner_pid)" = "$APP_PID" ] || { echo "package test: FAIL: the instance changed" >&2; exit 1; }
  sleep 1
  count=0
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/exe" 2>/dev/null)" = "$BIN" ] || continue
    grep -qz "^DBUS_SESSION_BUS_ADDRESS=$DBUS_SESSION_BUS_ADDRESS\$" "$p/environ" 2>/dev/null && count=$((count + 1))
  done
  [ "$count" -eq 1 ] || { echo "package test: FAIL: $count instances run in this session, not 1" >&2; exit 1; }
  echo "package test: second link through xdg-open reached the running instance in ${warm_ms} ms"
  printf '{"cold_link_to_dialog_ms": %s, "warm_link_received_ms": %s}\n' "$cold_ms" "$warm_ms" >"$ARTIFACTS/package.json"
  kill "$APP_PID"
  for _ in $(seq 50); do kill -0 "$APP_PID" 2>/dev/null || break; sleep 0.1; done
  APP_PID=""
  exit 0
fi

# ---- outside: install, check, run the session, remove ----------------------------------------
DEB="$(realpath "${1:?usage: tests/e2e/package.sh path/to.deb [stepup-sandbox]}")"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
SANDBOX_BIN="$(realpath -m "${2:-$TARGET/debug/stepup-sandbox}")"
[ -x "$SANDBOX_BIN" ] || { echo "package test: no sandbox at $SANDBOX_BIN (cargo build -p stepup-sandbox)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "package test: needs root: it installs the .deb into this (throw-away) machine" >&2; exit 2; }
ARTIFACTS="$ROOT/ci-artifacts/package"
ISO="$ROOT/target/package-home"
rm -rf "$ISO" "$ARTIFACTS"
mkdir -p "$ISO"/{data,config,cache,runtime} "$ARTIFACTS"
chmod 700 "$ISO/runtime"
fail() { echo "package test: FAIL: $*" >&2; exit 1; }

# One GUI suite at a time on this machine (run.sh takes the same lock).
exec 9>"${TMPDIR:-/tmp}/stepup-e2e-suite.lock"
flock 9

installed() { dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "install ok installed"; }
if installed || dpkg-query -W "$PKG" >/dev/null 2>&1; then
  echo "package test: purging the $PKG installed before"
  DEBIAN_FRONTEND=noninteractive apt-get remove --purge -y -q "$PKG" >/dev/null
fi
echo "package test: $(basename "$DEB"): $(stat -c %s "$DEB") bytes"
dpkg-deb --info "$DEB" >"$ARTIFACTS/deb-info.txt"
dpkg-deb --contents "$DEB" | tee "$ARTIFACTS/deb-contents.txt"
# Only what is already installed may satisfy the dependencies, so that apt fetches nothing.
for dep in $(dpkg-deb --field "$DEB" Depends | tr ',' '\n' | sed 's/(.*//; s/|.*//' | tr -d ' '); do
  dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q "install ok installed" \
    || fail "the dependency $dep is not installed (tests/e2e/setup.sh installs it)"
done
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$DEB" \
  >"$ARTIFACTS/apt-install.log" 2>&1 || { cat "$ARTIFACTS/apt-install.log" >&2; fail "apt-get install"; }
installed || fail "$PKG is not installed after apt-get install"
dpkg -L "$PKG" >"$ARTIFACTS/files.txt"

[ -x "$BIN" ] || fail "no $BIN"
[ -f "$ENTRY" ] || fail "no $ENTRY"
grep -qx 'Exec=stepup-desktop %u' "$ENTRY" || fail "the entry's Exec is not 'stepup-desktop %u': $(grep ^Exec "$ENTRY")"
grep -qx "MimeType=x-scheme-handler/$SCHEME;" "$ENTRY" || fail "the entry does not declare the scheme handler"
grep -qi '^NoDisplay=true' "$ENTRY" && fail "the entry is hidden (NoDisplay=true)"
grep -qx 'Icon=stepup-desktop' "$ENTRY" || fail "the entry's icon is not stepup-desktop: $(grep ^Icon "$ENTRY")"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$ENTRY" || fail "desktop-file-validate"
fi
for size in 32x32 48x48 64x64 128x128 256x256 512x512; do
  [ -f "/usr/share/icons/hicolor/$size/apps/stepup-desktop.png" ] || fail "no $size icon in hicolor"
done
grep -q "x-scheme-handler/$SCHEME=.*stepup-desktop.desktop" /usr/share/applications/mimeinfo.cache \
  || fail "the post-install did not register the handler in mimeinfo.cache"

export HOME="$ISO" XDG_DATA_HOME="$ISO/data" XDG_CONFIG_HOME="$ISO/config" XDG_CACHE_HOME="$ISO/cache" XDG_RUNTIME_DIR="$ISO/runtime"
export GSETTINGS_BACKEND=memory ARTIFACTS SANDBOX_BIN STEPUP_LOOPBACK_ONLY=1
unset DBUS_SESSION_BUS_ADDRESS DISPLAY XDG_CURRENT_DESKTOP STEPUP_ENVIRONMENT_ID STEPUP_API_BASE_URL STEPUP_APP_ORIGIN
default="$(xdg-mime query default "x-scheme-handler/$SCHEME")"
[ "$default" = "stepup-desktop.desktop" ] || fail "xdg-mime query default x-scheme-handler/$SCHEME is '$default'"
echo "package test: installed; xdg-mime default handler: $default"

status=0
NO_AT_BRIDGE=1 timeout 180 dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" "$0" --in-session || status=$?

DEBIAN_FRONTEND=noninteractive apt-get remove --purge -y -q "$PKG" >"$ARTIFACTS/apt-remove.log" 2>&1 \
  || { cat "$ARTIFACTS/apt-remove.log" >&2; fail "apt-get remove --purge"; }
dpkg-query -W "$PKG" >/dev/null 2>&1 && fail "dpkg still knows $PKG after the purge"
left=0
while read -r path; do
  [ -f "$path" ] || [ -L "$path" ] || continue
  echo "package test: left behind: $path" >&2
  left=1
done <"$ARTIFACTS/files.txt"
[ "$left" -eq 0 ] || fail "files of the package are left after the purge"
[ ! -e "$BIN" ] && [ ! -e "$ENTRY" ] || fail "the binary or the entry is left"
if grep -q "x-scheme-handler/$SCHEME" /usr/share/applications/mimeinfo.cache 2>/dev/null; then
  fail "mimeinfo.cache still names a handler of $SCHEME"
fi
after="$(xdg-mime query default "x-scheme-handler/$SCHEME" || true)"
[ -z "$after" ] || fail "xdg-mime still has a default handler after the purge: $after"
echo "package test: purged: binary, desktop entry, icons and handler are gone"
[ "$status" -eq 0 ] || fail "the installed app in a session (see $ARTIFACTS/app.log)"
echo "package test: passed"
