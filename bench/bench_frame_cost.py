"""Post-processing plus tracking in ms per frame at 50 detections, on one core (target <= 2 ms).

Runs the two existing benchmarks, each pinned to one core, and adds their results:
  bench/bench_postprocess.py  head decoding + class-aware NMS + scaling back ([1, 84, 8400])
  bench/bench_tracking.py     ByteTracker.update with 50 detections per frame
Also times, on the same core but outside the target, building the JSON message of a
frame with 50 tracked detections (publish.message.build_detections_message), the other
per-frame step of the frame path.

    python bench/bench_frame_cost.py [--objects 50] [--core 0] [--name NAME]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import time

import numpy as np

from common import BENCH_DIR, PYTHON, CpuMonitor, bench_arguments, stats_ms, wait_for_quiet, write_result

TARGET_MS = 2.0
_POSTPROCESS = re.compile(r"median ([\d.]+) ms, p90 ([\d.]+) ms")
_TRACKING = re.compile(r"median ([\d.]+), p90 ([\d.]+), p99 ([\d.]+), mean ([\d.]+)")


def run_pinned(script: str, core: int, *args: str) -> str:
    result = subprocess.run(
        [PYTHON, str(BENCH_DIR / script), *args], capture_output=True, text=True, check=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {core}),
    )
    return result.stdout


def parse(pattern: re.Pattern[str], output: str, script: str) -> tuple[float, ...]:
    found = pattern.search(output)
    if found is None:
        raise RuntimeError(f"{script} printed no result line:\n{output}")
    return tuple(float(v) for v in found.groups())


def message_ms(objects: int, runs: int = 2000) -> np.ndarray:
    """ms to build one frame's message with `objects` tracked detections."""
    from jetsentry.detections import Detections
    from jetsentry.publish.message import LATENCY_STAGES, ModelInfo, build_detections_message

    rng = np.random.default_rng(0)
    corner = rng.uniform(0, 1800, (objects, 2))
    detections = Detections(
        boxes=np.concatenate((corner, corner + rng.uniform(20, 120, (objects, 2))), axis=1).astype(np.float32),
        scores=rng.uniform(0.25, 0.95, objects).astype(np.float32),
        class_ids=rng.integers(0, 80, objects).astype(np.int32),
        track_ids=np.arange(1, objects + 1, dtype=np.int64),
    )
    labels = np.asarray([f"class{i}" for i in range(80)], dtype=object)
    model = ModelInfo(name="yolov8n-coco", version="8.4", sha256="0" * 64)
    latency = {stage: 12.345 for stage in LATENCY_STAGES}
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        build_detections_message(device_id="bench", camera_id="cam1", seq=i, capture_ts=1.7e9, model=model,
                                 backend="onnxruntime-cpu", width=1920, height=1080, detections=detections,
                                 labels=labels, latency_ms=latency)
        times[i] = time.perf_counter() - start
    return times * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "frame_cost_50det", model=False, clip=False)
    parser.add_argument("--objects", type=int, default=50)
    parser.add_argument("--core", type=int, default=0, help="CPU core both benchmarks are pinned to")
    args = parser.parse_args()

    if not args.no_wait:
        wait_for_quiet()
    with CpuMonitor() as monitor:
        post_out = run_pinned("bench_postprocess.py", args.core, "--objects", str(args.objects))
        track_out = run_pinned("bench_tracking.py", args.core, "--objects", str(args.objects))
        os.sched_setaffinity(0, {args.core})
        message = stats_ms(message_ms(args.objects))
    post_median, post_p90 = parse(_POSTPROCESS, post_out, "bench_postprocess.py")
    track_median, track_p90, track_p99, track_mean = parse(_TRACKING, track_out, "bench_tracking.py")
    total = post_median + track_median
    met = total <= TARGET_MS
    print(post_out.strip())
    print(track_out.strip())
    print(f"bench_frame_cost: decode+NMS {post_median:.3f} ms + tracking {track_median:.3f} ms = {total:.3f} ms "
          f"per frame at {args.objects} detections on one core (median; p90 sum {post_p90 + track_p90:.3f} ms); "
          f"target <= {TARGET_MS} ms: {'met' if met else 'NOT met'}; "
          f"foreign load {monitor.record['foreign_cores']:.2f} cores", flush=True)
    print(f"  (not in the target) JSON message with {args.objects} tracked detections: p50 {message['p50']:.3f} ms, "
          f"p90 {message['p90']:.3f} ms", flush=True)
    write_result(args.name, {
        "objects": args.objects,
        "core": args.core,
        "postprocess_ms": {"p50": post_median, "p90": post_p90},
        "tracking_ms": {"p50": track_median, "p90": track_p90, "p99": track_p99, "mean": track_mean},
        "total_ms_p50": round(total, 3),
        "total_ms_p90": round(post_p90 + track_p90, 3),
        "target_ms": TARGET_MS,
        "target_met": met,
        "message_ms": message,
        "outputs": {"bench_postprocess": post_out.strip(), "bench_tracking": track_out.strip()},
    }, load=monitor.record)


if __name__ == "__main__":
    main()
