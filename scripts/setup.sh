#!/usr/bin/env bash
# Installs what smbguard and its tests need on a fresh Debian machine (run as root, or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
for pkg in samba samba-vfs-modules smbclient nmap tshark iproute2 chromium gcc; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Samba's package starts system daemons on install; smbguard's tests run their own instances.
$SUDO systemctl stop smbd nmbd samba-ad-dc 2>/dev/null || true
pkill -x smbd 2>/dev/null || true
pkill -x nmbd 2>/dev/null || true
# -e also compiles the optional C accelerator smbguard/logs/_evtxscan.c in place (setup.py; needs gcc)
python3 -m pip install -q --disable-pip-version-check -e ".[test]"
# Byte-compile once: with PYTHONDONTWRITEBYTECODE set, every run would otherwise recompile the modules.
python3 -m compileall -q src >/dev/null
