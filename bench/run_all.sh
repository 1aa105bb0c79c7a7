#!/usr/bin/env bash
# Every benchmark of docs/PERFORMANCE.md, one after another; results in bench/results/*.json.
#
#   bench/run_all.sh [--memory] [--memory-minutes N] [--experiments] [--no-wait]
#
#   --memory            also run the long RSS run (warm-up minute + N minutes, 11 by default)
#   --memory-minutes N  measured minutes of the RSS run (default 10; >= 2)
#   --experiments       also measure analyze with one frame-path choice undone each (spinning
#                       ONNX Runtime threads, no batch prepared ahead, decoding at normal
#                       priority; the recordings daemon with decoding and preparing at normal
#                       priority; bench/patched_copy.py; the checkout is not changed), ~16 min
#   --no-wait           do not wait for an idle machine before each measurement
#
# A benchmark that cannot run here (no COCO model, no Ultralytics) exits 77 and is
# listed as skipped; any other failure is listed and makes the script exit 1.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
memory=0
experiments=0
memory_minutes=10
wait_flag=()
while [ $# -gt 0 ]; do
  case "$1" in
    --memory) memory=1 ;;
    --experiments) experiments=1 ;;
    --memory-minutes) memory_minutes="$2"; shift ;;
    --no-wait) wait_flag=(--no-wait) ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
  shift
done

skipped=()
failed=()
bench() {
  echo "== ${PYTHONPATH:+PYTHONPATH=$PYTHONPATH }$* ($(date -u +%H:%M:%S), load: $(cut -d' ' -f1-3 /proc/loadavg))"
  "$PY" "$@"
  local rc=$?
  case $rc in
    0) ;;
    77) skipped+=("$1") ;;
    *) failed+=("$1 (exit $rc)") ;;
  esac
}

bench bench/bench_frame_cost.py "${wait_flag[@]}"
bench bench/bench_decode.py "${wait_flag[@]}"
bench bench/bench_engine.py "${wait_flag[@]}"
bench bench/bench_host_drift.py --spans 40 "${wait_flag[@]}"
bench bench/bench_engine.py --model engines/models/jetsentry-default.onnx --clip engines/samples/sample-scene.mp4 \
  --name engine_default_sample "${wait_flag[@]}"
bench bench/bench_analyze.py "${wait_flag[@]}"
# Recordings (realtime: false): every frame of 4 files, the next batch prepared during inference.
bench bench/bench_daemon.py --not-realtime --name daemon_coco_4cam_recordings "${wait_flag[@]}"
# Live: 4 cameras delivering 1080p30, newest frame wins (decoding every frame is the bound here).
bench bench/bench_daemon.py "${wait_flag[@]}"
# Live substreams: the same with 640x360 cameras, where decoding is cheap.
bench bench/bench_daemon.py --clip-height 360 --name daemon_coco_4cam_360p "${wait_flag[@]}"
bench bench/bench_ultralytics.py "${wait_flag[@]}"
bench bench/bench_latency.py "${wait_flag[@]}"
bench bench/bench_latency.py --source test "${wait_flag[@]}"
if [ "$experiments" = 1 ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  for patch in spin serial normal-priority; do
    "$PY" bench/patched_copy.py "$work/$patch" "$patch" >/dev/null
    PYTHONPATH="$work/$patch" BENCH_NOTE="experiment (bench/patched_copy.py): $patch" \
      bench bench/bench_analyze.py --name "exp_analyze_coco_1080p_$patch" "${wait_flag[@]}"
  done
  patch=daemon-normal-priority
  "$PY" bench/patched_copy.py "$work/$patch" "$patch" >/dev/null
  PYTHONPATH="$work/$patch" BENCH_NOTE="experiment (bench/patched_copy.py): $patch" \
    bench bench/bench_daemon.py --not-realtime --name "exp_daemon_coco_4cam_recordings_$patch" "${wait_flag[@]}"
fi
if [ "$memory" = 1 ]; then
  bench bench/bench_memory.py --minutes "$memory_minutes"
fi

echo "== done: ${#skipped[@]} skipped, ${#failed[@]} failed"
for name in "${skipped[@]}"; do echo "skipped: $name"; done
for name in "${failed[@]}"; do echo "FAILED: $name"; done
[ ${#failed[@]} -eq 0 ]
