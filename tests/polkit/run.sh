#!/usr/bin/env bash
# The device passkey verified by polkit, with the real parts: the .deb installed (its helper
# and polkit action), a system D-Bus and polkitd, pkexec, PAM, and an ordinary user with a
# password. The desktop's authentication agent is played by pkttyagent, registered for the
# probe's process and typed into by agent.py. Needs root (it installs the package, adds a
# user and starts system services): CI's throw-away machine.
#
#   bash tests/polkit/run.sh <stepup-desktop.deb> <os_verification_probe binary>
set -euo pipefail
deb=$(realpath "$1")
probe=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
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
