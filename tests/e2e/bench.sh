#!/usr/bin/env bash
# Measures the app: deep link → dialog ready (to a running instance, and cold), binary size,
# idle memory (RSS of the app and its WebKit processes). Numbers on stdout and in
# ci-artifacts/bench/bench.json, or in $BENCH_OUT/bench.json (`cargo xtask bench` merges them
# into its side-by-side table).
#
#   tests/e2e/bench.sh [path/to/stepup-desktop] [runs]
#
# Build the measured binary with: cargo build --release --features custom-protocol -p stepup-desktop
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
APP="$(realpath -m "${1:-$ROOT/target/release/stepup-desktop}")"
RUNS="${2:-5}"
if [ -z "${1:-}" ]; then
  # No binary given: the release build as `tauri build` makes it (a no-op when current).
  (cd "$ROOT" && cargo build --release --features custom-protocol -p stepup-desktop --locked)
fi
[ -x "$APP" ] || { echo "bench: no executable at $APP" >&2; exit 2; }
OUT="${BENCH_OUT:-$ROOT/ci-artifacts/bench}"
ISO="$ROOT/target/bench-home"
rm -rf "$ISO" "$OUT"
mkdir -p "$ISO"/{data,config,cache,runtime} "$OUT"
chmod 700 "$ISO/runtime"
export HOME="$ISO" XDG_DATA_HOME="$ISO/data" XDG_CONFIG_HOME="$ISO/config" XDG_CACHE_HOME="$ISO/cache" XDG_RUNTIME_DIR="$ISO/runtime"
export GSETTINGS_BACKEND=memory APP RUNS OUT
unset DBUS_SESSION_BUS_ADDRESS DISPLAY
timeout 600 dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24" sh -c '
  eval "$(echo -n bench | gnome-keyring-daemon --unlock --components=secrets)"
  exec python3 "'"$ROOT"'/tests/e2e/bench.py"'
