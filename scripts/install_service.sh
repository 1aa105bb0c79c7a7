#!/usr/bin/env bash
# Install jetsentry as a systemd service, as root (docs/SYSTEMD.md).  Safe to run again.
#   sudo bash scripts/install_service.sh          CPU build of ONNX Runtime
#   sudo bash scripts/install_service.sh --gpu    further arguments go to scripts/setup.sh
# - copies this checkout to /opt/jetsentry (the unit's ProtectHome=yes hides /home and /root
#   from the service, so the code cannot run from a clone there) and runs scripts/setup.sh
#   there, which makes /opt/jetsentry/.venv;
# - installs systemd/jetsentry.service and jetsentry.slice into /etc/systemd/system, the user
#   file into /etc/sysusers.d and creates the jetsentry user (systemd-sysusers);
# - writes /etc/jetsentry/jetsentry.yaml from config/jetsentry.yaml if there is none (the
#   bundled sample and model, paths made absolute), root:jetsentry 0640;
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
if [[ ! -e /etc/jetsentry/jetsentry.yaml ]]; then
  sed "s#\.\./engines/#$PREFIX/engines/#g" config/jetsentry.yaml > /etc/jetsentry/jetsentry.yaml
  echo "wrote /etc/jetsentry/jetsentry.yaml (the bundled sample); edit it for your cameras"
fi
chown root:jetsentry /etc/jetsentry/jetsentry.yaml
chmod 0640 /etc/jetsentry/jetsentry.yaml
# Credentials (LoadCredential=): /etc/credstore/mqtt-password, readable by root only.
install -d -m 0700 /etc/credstore

systemctl daemon-reload
systemctl enable jetsentry.service
"$PREFIX/.venv/bin/jetsentry" check-config /etc/jetsentry/jetsentry.yaml
echo "installed: systemctl start jetsentry; systemctl status jetsentry; journalctl -u jetsentry -f"
