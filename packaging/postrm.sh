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
# Purged: the polkit helper's per-user secrets go too (passkeys sealed by them cannot be
# opened again; they are removed and added again, like a locked one).
if [ "$1" = purge ]; then
  rm -rf /var/lib/stepup-desktop
fi
exit 0
