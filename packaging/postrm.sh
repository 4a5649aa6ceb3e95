#!/bin/sh
# Stepup Desktop's post-removal: the entry and icons are gone; refresh the caches so that no
# desktop still offers the com.stepup.desktop:// handler or shows the icon.
set -e
case "$1" in
  remove|purge|abort-install|disappear|"")
    if command -v update-desktop-database >/dev/null 2>&1; then
      update-desktop-database -q /usr/share/applications || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -d /usr/share/icons/hicolor ]; then
      gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true
    fi
    if command -v xdg-desktop-menu >/dev/null 2>&1; then
      xdg-desktop-menu forceupdate --mode system >/dev/null 2>&1 || true
    fi
    ;;
esac
exit 0
