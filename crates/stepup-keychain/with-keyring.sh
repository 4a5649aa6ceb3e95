#!/bin/sh
# Runs a command against a private, unlocked gnome-keyring (Secret Service).
#
# usage: dbus-run-session -- crates/stepup-keychain/with-keyring.sh <cmd...>
#
# Needs (Debian): gnome-keyring dbus libsecret-tools
#   apt-get install -y --no-install-recommends gnome-keyring dbus libsecret-tools
#
# - The keyring files live in $STEPUP_KEYRING_HOME (default: target/keyring-home), wiped first,
#   so the tests never see the user's own keyring.
# - The login collection is created/unlocked with $STEPUP_KEYRING_PASSWORD (default: a fixed CI
#   password); it becomes the `default` alias, unlocked.
# - Exports STEPUP_KEYCHAIN_TESTS=1, which turns the keychain integration tests on.
set -eu

if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
    echo "with-keyring.sh: no session bus; run me as: dbus-run-session -- $0 <cmd...>" >&2
    exit 2
fi
if [ "$#" -eq 0 ]; then
    echo "usage: dbus-run-session -- $0 <cmd...>" >&2
    exit 2
fi

: "${STEPUP_KEYRING_HOME:=$PWD/target/keyring-home}"
rm -rf "$STEPUP_KEYRING_HOME"
mkdir -p "$STEPUP_KEYRING_HOME/data/keyrings" "$STEPUP_KEYRING_HOME/cache" "$STEPUP_KEYRING_HOME/config"
chmod 700 "$STEPUP_KEYRING_HOME" "$STEPUP_KEYRING_HOME/data/keyrings"
export XDG_DATA_HOME="$STEPUP_KEYRING_HOME/data"
export XDG_CACHE_HOME="$STEPUP_KEYRING_HOME/cache"
export XDG_CONFIG_HOME="$STEPUP_KEYRING_HOME/config"
export STEPUP_KEYRING_HOME

# A keyring daemon of an enclosing session must not be reused (gnome-keyring-daemon talks to the
# one GNOME_KEYRING_CONTROL names instead of starting its own).
unset GNOME_KEYRING_CONTROL
# Should anything still D-Bus-activate a keyring daemon, it gets the private directories too.
if command -v dbus-update-activation-environment >/dev/null 2>&1; then
    dbus-update-activation-environment XDG_DATA_HOME XDG_CACHE_HOME XDG_CONFIG_HOME >/dev/null 2>&1 || true
fi

# --unlock reads the password on stdin and creates the login keyring when there is none. It
# prints GNOME_KEYRING_CONTROL=... (and maybe SSH_AUTH_SOCK=...): export them.
eval "$(printf '%s' "${STEPUP_KEYRING_PASSWORD:-stepup-ci-password}" \
    | gnome-keyring-daemon --unlock --components=secrets | sed 's/^/export /')"

# The daemon forks before it owns org.freedesktop.secrets: wait, so that the first client does
# not D-Bus-activate a second daemon, and so that this daemon exits with the session bus.
i=0
until dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q 'boolean true'; do
    i=$((i + 1))
    if [ "$i" -gt 100 ]; then
        echo "with-keyring.sh: gnome-keyring-daemon did not appear on the session bus" >&2
        exit 1
    fi
    sleep 0.05
done

export STEPUP_KEYCHAIN_TESTS=1
exec "$@"
