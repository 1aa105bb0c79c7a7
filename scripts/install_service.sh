#!/usr/bin/env bash
# Install jetsentry as a systemd service, as root (docs/SYSTEMD.md).  Safe to run again.
#   sudo bash scripts/install_service.sh          CPU build of ONNX Runtime
#   sudo bash scripts/install_service.sh --gpu    further arguments go to scripts/setup.sh
# - copies this checkout to /opt/jetsentry (the unit's ProtectHome=yes hides /home and /root
#   from the service, so the code cannot run from a clone there) and runs scripts/setup.sh
#   there, which makes /opt/jetsentry/.venv;
# - installs systemd/jetsentry.service and jetsentry.slice into /etc/systemd/system, the user
#   file into /etc/sysusers.d and creates the jetsentry user (systemd-sysusers);
# - writes /etc/jetsentry/config.yaml from config/jetsentry.yaml if there is none (the
#   bundled sample and model, paths made absolute), root:jetsentry 0640; an older install's
#   /etc/jetsentry/jetsentry.yaml is renamed to it;
# - enables the service; start it with `systemctl start jetsentry`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  echo "run as root: sudo bash scripts/install_service.sh" >&2
  exit 2
fi
PREFIX=/opt/jetsentry

mkdir -p "$PREFIX"
if [[ $(realpath .) != "$PREFIX" ]]; then
  tar --exclude=./.git --exclude=./.venv --exclude='__pycache__' -cf - . | tar -xf - -C "$PREFIX"
fi
bash "$PREFIX/scripts/setup.sh" "$@"

install -m 0644 systemd/jetsentry.service systemd/jetsentry.slice /etc/systemd/system/
install -D -m 0644 systemd/jetsentry.sysusers.conf /etc/sysusers.d/jetsentry.conf
systemd-sysusers /etc/sysusers.d/jetsentry.conf

install -d -m 0755 /etc/jetsentry
CONFIG=/etc/jetsentry/config.yaml
if [[ -e /etc/jetsentry/jetsentry.yaml && ! -e $CONFIG ]]; then
  mv /etc/jetsentry/jetsentry.yaml "$CONFIG"
  echo "renamed /etc/jetsentry/jetsentry.yaml to $CONFIG (the name the unit and the .deb use)"
fi
if [[ ! -e $CONFIG ]]; then
  sed "s#\.\./engines/#$PREFIX/engines/#g" config/jetsentry.yaml > "$CONFIG"
  echo "wrote $CONFIG (the bundled sample); edit it for your cameras"
fi
chown root:jetsentry "$CONFIG"
chmod 0640 "$CONFIG"
# Credentials (LoadCredential=): /etc/credstore/mqtt-password, readable by root only.
install -d -m 0700 /etc/credstore

systemctl daemon-reload
systemctl enable jetsentry.service
"$PREFIX/.venv/bin/jetsentry" check-config "$CONFIG"
echo "installed: systemctl start jetsentry; systemctl status jetsentry; journalctl -u jetsentry -f"
