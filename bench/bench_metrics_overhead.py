"""What the metrics add to the frame path, in microseconds per frame (target: a few).

The frame path's only metrics work is the daemon's per-batch call after publishing
(service.py `_publish`: one time.monotonic() and `metrics.batch_published(results, started)`);
every other metric is read from the stages' own counters when Prometheus scrapes.  This times
that call on real ProcessedFrame batches, with metrics on (MetricsServer) and off (NoMetrics),
in interleaved rounds, for several batch sizes; the figure is the difference of the per-round
medians divided by the batch size.

    python bench/bench_metrics_overhead.py [--rounds 30] [--batches 2000] [--core 0] [--name NAME]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from common import CpuMonitor, bench_arguments, wait_for_quiet, write_result

TARGET_US_PER_FRAME = 3.0
BATCH_SIZES = (1, 4, 16)


def batch(size: int) -> list:
    from jetsentry.capture.frame import Frame
    from jetsentry.detections import Detections
    from jetsentry.pipeline import ProcessedFrame

    now = time.monotonic()
    picture = np.zeros((4, 4, 3), np.uint8)
    latency = {"decode_to_batch": 3.2, "preprocess": 4.1, "inference": 61.0, "postprocess": 0.9, "tracking": 0.15,
               "total": 70.0}
    return [ProcessedFrame(frame=Frame(f"cam{i % 4}", i, picture, capture_ts=1.7e9, received_monotonic=now - 0.07),
                           detections=Detections.empty(), latency_ms=dict(latency), payload=b"{}")
            for i in range(size)]


def per_batch_us(metrics, results: list, batches: int) -> float:
    """Mean microseconds of the daemon's per-batch metrics work over `batches` calls."""
    monotonic, published = time.monotonic, metrics.batch_published
    start = time.perf_counter()
    for _ in range(batches):
        published(results, monotonic())
    return (time.perf_counter() - start) / batches * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "metrics_overhead", model=False, clip=False)
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds per batch size")
    parser.add_argument("--batches", type=int, default=2000, help="calls per round")
    parser.add_argument("--core", type=int, default=0, help="the core the benchmark is pinned to")
    args = parser.parse_args()

    from jetsentry.config.metrics import MetricsConfig
    from jetsentry.health import ServiceCounters
    from jetsentry.metrics import DaemonSources, MetricsServer, NoMetrics

    os.sched_setaffinity(0, {args.core})
    sources = DaemonSources(device_id="bench", sessions={}, counters=ServiceCounters(), publisher=None, health=None,
                            backend="onnxruntime-cpu", model="bench", precision="fp32", outbox_capacity=10_000,
                            max_batch=max(BATCH_SIZES))
    if not args.no_wait:
        wait_for_quiet()
    results = {}
    with CpuMonitor() as monitor:
        for size in BATCH_SIZES:
            frames = batch(size)
            on, off = MetricsServer(MetricsConfig(), sources), NoMetrics()  # on: never started, nothing served
            rounds = {"on": [], "off": []}
            for _ in range(args.rounds):
                rounds["off"].append(per_batch_us(off, frames, args.batches))
                rounds["on"].append(per_batch_us(on, frames, args.batches))
            on_us, off_us = statistics.median(rounds["on"]), statistics.median(rounds["off"])
            results[size] = {"on_us_per_batch": round(on_us, 3), "off_us_per_batch": round(off_us, 3),
                             "added_us_per_frame": round((on_us - off_us) / size, 3),
                             "on_rounds_us": [round(v, 3) for v in rounds["on"]]}
    worst = max(r["added_us_per_frame"] for r in results.values())
    met = worst <= TARGET_US_PER_FRAME
    for size, r in results.items():
        print(f"batch {size:2d}: metrics on {r['on_us_per_batch']:.2f} us/batch, off {r['off_us_per_batch']:.2f} "
              f"us/batch: {r['added_us_per_frame']:.2f} us per frame", flush=True)
    print(f"bench_metrics_overhead: at most {worst:.2f} us per frame (target <= {TARGET_US_PER_FRAME} us: "
          f"{'met' if met else 'NOT met'}); other processes {monitor.record['foreign_cores']:.2f} cores", flush=True)
    write_result(args.name, {"core": args.core, "rounds": args.rounds, "batches_per_round": args.batches,
                             "by_batch_size": results, "added_us_per_frame_max": worst,
                             "target_us_per_frame": TARGET_US_PER_FRAME, "target_met": met}, load=monitor.record)


if __name__ == "__main__":
    main()
