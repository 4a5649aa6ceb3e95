#!/bin/sh
# Stepup Desktop's post-install: make the desktop see the new entry, its icons and the
# com.stepup.desktop:// handler it declares (MimeType=x-scheme-handler/com.stepup.desktop).
# update-desktop-database writes /usr/share/applications/mimeinfo.cache, where gio, xdg-open
# and `xdg-mime query default` find the handler of a scheme no user chose otherwise. Each
# tool is used where it is installed; none is required.
set -e
case "$1" in
  configure|abort-upgrade|abort-remove|abort-deconfigure|"")
    if command -v update-desktop-database >/dev/null 2>&1; then
      update-desktop-database -q /usr/share/applications || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -d /usr/share/icons/hicolor ]; then
      gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true
    fi
    # xdg-utils: the same refresh for desktops it knows (a no-op elsewhere).
    if command -v xdg-desktop-menu >/dev/null 2>&1; then
      xdg-desktop-menu forceupdate --mode system >/dev/null 2>&1 || true
    fi
    ;;
esac
exit 0
