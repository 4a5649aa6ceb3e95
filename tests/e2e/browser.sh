#!/usr/bin/env bash
# The E2E session's default web browser (set up by session.sh as the x-scheme-handler for http
# and https): Debian's chromium, headless, loading the URL it is given once. Every host but the
# loopback is unresolvable for it, and its background services are off: nothing leaves the
# machine.
set -eu
# The tests read what the app opened here (the wallet page's one-time URL, to drive it in a
# chromedriver session): a file in the session's private runtime dir (mode 700), never the
# artifacts.
if [ -n "${E2E_OPENED_URLS:-}" ]; then printf '%s\n' "$1" >>"$E2E_OPENED_URLS"; fi
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
timeout 60 chromium --headless=new --no-sandbox --disable-gpu --no-first-run --no-default-browser-check \
  --disable-background-networking --disable-component-update --disable-sync --disable-default-apps \
  --disable-domain-reliability --no-pings --metrics-recording-only \
  --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost" \
  --user-data-dir="$profile" --dump-dom "$1" >/dev/null 2>&1 || true
