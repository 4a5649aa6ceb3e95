#!/usr/bin/env bash
# The device passkey verified by polkit, with the real parts: the .deb installed (its helper
# and polkit action), a system D-Bus and polkitd, pkexec, PAM, and an ordinary user with a
# password. The desktop's authentication agent is played by pkttyagent, registered for the
# probe's process and typed into by agent.py. Needs root (it installs the package, adds a
# user and starts system services): CI's throw-away machine.
#
#   bash tests/polkit/run.sh <stepup-desktop.deb> <os_verification_probe binary> [<stepup-desktop>]
#
# With the app binary (a debug build: WebDriver drives it; stepup-sandbox beside it), the E2E
# tests of tests/e2e/polkit-tests.mjs then run in the real window as that user, in their own
# D-Bus session, keyring and Xvfb, with agent.py as the desktop's agent. Screenshots go to
# ci-artifacts/e2e-polkit/.
set -euo pipefail
deb=$(realpath "$1")
probe=$(realpath "$2")
app=${3:+$(realpath "$3")}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "polkit test: run as root" >&2; exit 2; }

need=()
for p in dbus polkitd pkexec libglib2.0-bin; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

user=stepup-uv-test
work=$(mktemp -d /tmp/stepup-polkit.XXXXXX)
started_bus=""; started_polkitd=""; installed=""
cleanup() {
  set +e
  [ -n "$installed" ] && DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq stepup-desktop >/dev/null 2>&1
  [ -n "$installed" ] && rm -rf /var/lib/stepup-desktop
  id "$user" >/dev/null 2>&1 && userdel -r "$user" >/dev/null 2>&1
  [ -n "$started_polkitd" ] && kill "$started_polkitd" 2>/dev/null
  [ -n "$started_bus" ] && kill "$started_bus" 2>/dev/null && rm -f /run/dbus/system_bus_socket /run/dbus/pid
  rm -rf "$work"
}
trap cleanup EXIT

bus_up() { gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
  --method org.freedesktop.DBus.GetId >/dev/null 2>&1; }
if ! bus_up; then
  mkdir -p /run/dbus; rm -f /run/dbus/pid /run/dbus/system_bus_socket
  dbus-daemon --system --fork --print-pid > "$work/bus.pid"
  started_bus=$(cat "$work/bus.pid")
  for _ in $(seq 50); do bus_up && break; sleep 0.1; done
fi
polkit_up() { gdbus call --system --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
  --method org.freedesktop.DBus.NameHasOwner org.freedesktop.PolicyKit1 2>/dev/null | grep -q true; }

# The package: its helper and action are what the probe uses.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >/dev/null
installed=1
test -x /usr/libexec/stepup-desktop/stepup-uv-helper
test -f /usr/share/polkit-1/actions/org.stepup.desktop.policy
if ! polkit_up; then
  /usr/lib/polkit-1/polkitd --no-debug > "$work/polkitd.log" 2>&1 &
  started_polkitd=$!
  for _ in $(seq 50); do polkit_up && break; sleep 0.1; done
fi
polkit_up || { echo "polkit test: polkitd did not start" >&2; cat "$work/polkitd.log" >&2; exit 1; }
# polkitd reads actions at start and on change; wait until it knows ours.
for _ in $(seq 50); do
  pkaction --action-id org.stepup.desktop.verify-user >/dev/null 2>&1 && break; sleep 0.1
done
pkaction --action-id org.stepup.desktop.verify-user --verbose | grep -q "implicit active: *auth_self$"

# An ordinary user with a password nobody else knows.
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
useradd --create-home --shell /bin/sh "$user"
printf '%s:%s\n' "$user" "$password" | chpasswd
uid=$(id -u "$user")
install -m 0755 "$probe" "$work/probe"
chmod 0755 "$work"

# The helper refuses to run outside pkexec, as the user and even as root without PKEXEC_UID.
if runuser -u "$user" -- /usr/libexec/stepup-desktop/stepup-uv-helper </dev/null >/dev/null 2>&1; then
  echo "polkit test: the helper ran for the user without pkexec" >&2; exit 1
fi
if env -u PKEXEC_UID /usr/libexec/stepup-desktop/stepup-uv-helper </dev/null >/dev/null 2>&1; then
  echo "polkit test: the helper ran without PKEXEC_UID" >&2; exit 1
fi
# Without an agent, pkexec cannot ask, and nothing is released.
if echo AAAAAAAAAAAAAAAAAAAAAA | runuser -u "$user" -- pkexec --disable-internal-agent \
    /usr/libexec/stepup-desktop/stepup-uv-helper >/dev/null 2>&1; then
  echo "polkit test: pkexec released a key with no agent to ask the user" >&2; exit 1
fi

STEPUP_POLKIT_TRANSCRIPT="${STEPUP_POLKIT_TRANSCRIPT:-}" STEPUP_POLKIT_PASSWORD="$password" python3 "$here/agent.py" "$user" "$work/probe"

# The app in its real window, as the user: the E2E tools are root's to install (tests/e2e/setup.sh),
# the user's to run, from a copy the user can read.
if [ -n "$app" ]; then
  bash "$root/tests/e2e/setup.sh" # installs only what is missing
  driver=$(command -v tauri-driver || echo "$HOME/.cargo/bin/tauri-driver")
  e2e=$work/e2e
  mkdir -p "$e2e/repo/tests" "$e2e/bin"
  cp -a "$root/tests/e2e" "$root/tests/polkit" "$e2e/repo/tests/"
  # What a11y.py reads the raw method and scope codes from.
  mkdir -p "$e2e/repo/crates/stepup-protocol/src" "$e2e/repo/ui"
  cp "$root/crates/stepup-protocol/src/scope.rs" "$e2e/repo/crates/stepup-protocol/src/"
  cp "$root/ui/methods.js" "$e2e/repo/ui/"
  install -m 0755 "$app" "$(dirname "$app")/stepup-sandbox" "$driver" "$e2e/bin/"
  # The password reaches the agent only, through a file of the user's (not the app's env).
  printf '%s' "$password" > "$e2e/password"
  chmod 0600 "$e2e/password"
  chown -R "$user" "$e2e"
  status=0
  runuser -u "$user" -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$(getent passwd "$user" | cut -d: -f6)" \
    LANG=C.UTF-8 TAURI_DRIVER="$e2e/bin/tauri-driver" STEPUP_LOOPBACK_ONLY=1 E2E_FILTER=os_verified_passkey \
    E2E_POLKIT_PASSWORD_FILE="$e2e/password" STEPUP_POLKIT_TRANSCRIPT="${STEPUP_POLKIT_TRANSCRIPT:-}" \
    bash "$e2e/repo/tests/e2e/run.sh" "$e2e/bin/stepup-desktop" > "$work/e2e.log" 2>&1 || status=$?
  grep -E "^(ok  |FAIL|warn)" "$work/e2e.log" || true
  rm -rf "$root/ci-artifacts/e2e-polkit"
  mkdir -p "$root/ci-artifacts/e2e-polkit"
  cp -r "$e2e/repo/ci-artifacts/e2e/." "$root/ci-artifacts/e2e-polkit/" 2>/dev/null || true
  cp "$work/e2e.log" "$root/ci-artifacts/e2e-polkit/run.log"
  for test in os_verified_passkey_without_an_agent_falls_back_to_a_pin os_verified_passkey_asks_the_system_not_a_pin; do
    grep -q "^ok   $test " "$work/e2e.log" || { echo "polkit test: $test did not pass (ci-artifacts/e2e-polkit/run.log)" >&2; tail -40 "$work/e2e.log" >&2; exit 1; }
  done
  [ "$status" = 0 ] || { echo "polkit test: the E2E run failed ($status)" >&2; tail -40 "$work/e2e.log" >&2; exit 1; }
fi

# The helper's secret for the user: root's, mode 0600, not readable by the user.
secret=/var/lib/stepup-desktop/uv/$uid
[ "$(stat -c '%U %a %s' "$secret")" = "root 600 32" ] || { stat "$secret" >&2; exit 1; }
if runuser -u "$user" -- cat "$secret" >/dev/null 2>&1; then
  echo "polkit test: the user can read the helper's secret" >&2; exit 1
fi
# A purge takes the secrets with it.
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq stepup-desktop >/dev/null
installed=""
if [ -e /var/lib/stepup-desktop ] || [ -e /usr/libexec/stepup-desktop ] \
    || [ -e /usr/share/polkit-1/actions/org.stepup.desktop.policy ]; then
  echo "polkit test: the purge left the helper, its action or its secrets" >&2; exit 1
fi
echo "polkit test: passed"
