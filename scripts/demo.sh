#!/usr/bin/env bash
# Install what is missing, start a local Mosquitto if none listens on 1883, run the
# daemon on the bundled default (sample scene + default model) and show detections
# as they arrive.  DEMO_SECONDS=0 runs until Ctrl-C (default: 30 s).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
seconds=${DEMO_SECONDS:-30}

broker_pid=""
if ! (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then
  echo "starting a local Mosquitto on 127.0.0.1:1883"
  mosquitto -p 1883 >/tmp/jetsentry-demo-mosquitto.log 2>&1 &
  broker_pid=$!
  sleep 0.5
fi

.venv/bin/python scripts/watch_detections.py --port 1883 &
watcher_pid=$!
# The demo keeps its state (the disk outbox, the run counter) in the checkout, so it runs
# as any user; the daemon proper uses state_dir (default /var/lib/jetsentry).
export JETSENTRY__STATE_DIR="${JETSENTRY__STATE_DIR:-$PWD/.state}"
.venv/bin/jetsentry run --config config/jetsentry.yaml 2> >(grep -v " DEBUG " >&2) &
daemon_pid=$!

cleanup() {
  kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  sleep 0.5
  kill "$watcher_pid" 2>/dev/null || true
  [[ -n "$broker_pid" ]] && kill "$broker_pid" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
if [[ "$seconds" == "0" ]]; then
  wait "$daemon_pid"
else
  sleep "$seconds"
fi
