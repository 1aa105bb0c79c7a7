#!/usr/bin/env bash
# Every benchmark of docs/PERFORMANCE.md, one after another; results in bench/results/*.json,
# then the summary table (bench/report.py).
#
#   bench/run_all.sh [--skip-soak] [--soak-minutes N] [--no-wait]
#
#   --skip-soak         leave out the memory soak (5 min warm-up + 60 measured minutes)
#   --soak-minutes N    measured minutes of the soak (default 60)
#   --no-wait           do not wait for an idle machine before each throughput measurement
#
# The throughput benchmarks take about 20 minutes (the monitoring cost 5 more) and want a quiet machine; the soak runs
# last. A benchmark that cannot run here (no COCO model) exits 77 and is listed as skipped;
# any other failure is listed and makes the script exit 1.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
soak=1
soak_minutes=60
wait_flag=()
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-soak) soak=0 ;;
    --soak-minutes) soak_minutes="$2"; shift ;;
    --no-wait) wait_flag=(--no-wait) ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done

skipped=()
failed=()
bench() {
  echo "== $* ($(date -u +%H:%M:%S), load: $(cut -d' ' -f1-3 /proc/loadavg))"
  "$PY" "$@"
  local rc=$?
  case $rc in
    0) ;;
    77) skipped+=("$1") ;;
    *) failed+=("$1 (exit $rc)") ;;
  esac
}

bench bench/bench_frame_cost.py "${wait_flag[@]}"
bench bench/bench_finish_cost.py "${wait_flag[@]}"
bench bench/bench_metrics_overhead.py "${wait_flag[@]}"
bench bench/bench_outbox.py "${wait_flag[@]}"
bench bench/bench_decode.py "${wait_flag[@]}"
bench bench/bench_engine.py "${wait_flag[@]}"
bench bench/bench_engine.py --model engines/models/jetsentry-default.onnx --clip engines/samples/sample-scene.mp4 \
  --name engine_default_sample "${wait_flag[@]}"
bench bench/bench_analyze.py "${wait_flag[@]}"
# Recordings (realtime: false): every frame of 4 files, the next batch prepared during inference.
bench bench/bench_daemon.py --not-realtime --name daemon_coco_4cam_recordings "${wait_flag[@]}"
# Live: 4 cameras delivering 1080p30, newest frame wins (decoding every frame is the bound here).
bench bench/bench_daemon.py "${wait_flag[@]}"
# Live substreams: the same with 640x360 cameras, where decoding is cheap.
bench bench/bench_daemon.py --clip-height 360 --name daemon_coco_4cam_360p "${wait_flag[@]}"
bench bench/bench_latency.py "${wait_flag[@]}"
bench bench/bench_latency.py --source test "${wait_flag[@]}"
bench bench/bench_monitoring.py "${wait_flag[@]}"
if [ "$soak" = 1 ]; then
  bench bench/bench_soak.py --minutes "$soak_minutes"
fi

"$PY" bench/report.py
echo "== done: ${#skipped[@]} skipped, ${#failed[@]} failed"
for name in "${skipped[@]}"; do echo "skipped: $name"; done
for name in "${failed[@]}"; do echo "FAILED: $name"; done
[ ${#failed[@]} -eq 0 ]
