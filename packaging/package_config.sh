#!/usr/bin/env bash
# Print the package's /etc/jetsentry/config.yaml made from the bundled default (config/jetsentry.yaml):
# the sample scene and the default model at their installed paths under /opt/jetsentry.
set -euo pipefail
cat <<'HEADER'
# /etc/jetsentry/config.yaml: the jetsentry package's default, the bundled sample scene through
# the default model to a broker on localhost.  While no broker answers, every message waits in
# the disk outbox (<state_dir>/outbox.db).  Every field and its meaning:
# /usr/share/doc/jetsentry/examples/jetsentry.example.yaml.  After editing:
#   jetsentry check-config /etc/jetsentry/config.yaml && systemctl restart jetsentry
state_dir: /var/lib/jetsentry
HEADER
grep -v '^#' "$1" | sed -e 's#\.\./engines/#/opt/jetsentry/engines/#g' -e 's/ *# relative to this file$//' \
  -e 's/^device_id: demo$/device_id: demo                  # unique in your fleet: one MQTT topic level/'
