#!/usr/bin/env bash
# Every benchmark of docs/PERFORMANCE.md, one after another; results in bench/results/*.json.
#
#   bench/run_all.sh [--memory] [--memory-minutes N] [--experiments] [--no-wait]
#
#   --memory            also run the long RSS run (warm-up minute + N minutes, 11 by default)
#   --memory-minutes N  measured minutes of the RSS run (default 10; >= 2)
#   --experiments       also measure variants on patched copies of the package (spinning
#                       ONNX Runtime threads, videorate before conversion; bench/patched_copy.py;
#                       the checkout is not changed), ~20 min
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
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
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
bench bench/bench_engine.py --model engines/models/jetsentry-default.onnx --clip engines/samples/sample-scene.mp4 \
  --name engine_default_sample "${wait_flag[@]}"
bench bench/bench_analyze.py "${wait_flag[@]}"
bench bench/bench_analyze.py --model engines/models/jetsentry-default.onnx --clip engines/samples/sample-scene.mp4 \
  --name analyze_default_sample --repeat 7 --raw-frames 150 "${wait_flag[@]}"
bench bench/bench_daemon.py "${wait_flag[@]}"
# Diagnostic: the same with 5 fps cameras (decode load a sixth), to separate decode cost from the rest.
bench bench/bench_daemon.py --clip-fps 5 --name daemon_coco_4cam_5fps "${wait_flag[@]}"
bench bench/bench_ultralytics.py "${wait_flag[@]}"
bench bench/bench_latency.py "${wait_flag[@]}"
bench bench/bench_latency.py --source test "${wait_flag[@]}"
if [ "$experiments" = 1 ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  "$PY" bench/patched_copy.py "$work/spin" spin >/dev/null
  "$PY" bench/patched_copy.py "$work/videorate" videorate=4 >/dev/null
  note="experiment (bench/patched_copy.py)"
  PYTHONPATH="$work/spin" BENCH_NOTE="$note: spin" \
    bench bench/bench_analyze.py --repeat 5 --name exp_analyze_coco_1080p_spin "${wait_flag[@]}"
  PYTHONPATH="$work/spin" BENCH_NOTE="$note: spin" \
    bench bench/bench_daemon.py --name exp_daemon_coco_4cam_spin "${wait_flag[@]}"
  bench bench/bench_daemon.py --fps-cap 4 --name daemon_coco_4cam_cap4 "${wait_flag[@]}"
  PYTHONPATH="$work/videorate" BENCH_NOTE="$note: videorate=4" \
    bench bench/bench_daemon.py --fps-cap 4 --name exp_daemon_coco_4cam_cap4_videorate "${wait_flag[@]}"
fi
if [ "$memory" = 1 ]; then
  bench bench/bench_memory.py --minutes "$memory_minutes"
fi

echo "== done: ${#skipped[@]} skipped, ${#failed[@]} failed"
for name in "${skipped[@]}"; do echo "skipped: $name"; done
for name in "${failed[@]}"; do echo "FAILED: $name"; done
[ ${#failed[@]} -eq 0 ]
