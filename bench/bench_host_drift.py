"""How steady this host is: one ONNX Runtime session timed over consecutive short spans.

Plain ONNX Runtime (default options) on the letterboxed 1080p frame, one session, no
other work: `--spans` consecutive spans of `--frames` frames each.  The spread of the
span rates is why the end-to-end benchmarks interleave their raw runs with the measured
process (bench/interleave.py) instead of comparing with raw runs taken before and after.

    python bench/bench_host_drift.py [--spans 16] [--frames 40]
"""

from __future__ import annotations

import argparse

import numpy as np

from bench_engine import _time_batches, letterboxed_batch, ort_runner
from common import CpuMonitor, bench_arguments, chosen_clip, chosen_model, wait_for_quiet, write_result

WARMUP_RUNS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "host_drift")
    parser.add_argument("--spans", type=int, default=16)
    parser.add_argument("--frames", type=int, default=40, help="frames per span (~2 s)")
    args = parser.parse_args()
    model = chosen_model(args)
    tensor = letterboxed_batch(model, chosen_clip(args), 1)
    run = ort_runner(model)
    for _ in range(WARMUP_RUNS):
        run(tensor)
    if not args.no_wait:
        wait_for_quiet()
    with CpuMonitor() as monitor:
        spans = [float(args.frames / _time_batches(run, tensor, args.frames).sum()) for _ in range(args.spans)]
    rates = [round(rate, 2) for rate in spans]
    print(f"bench_host_drift {model.name} 1x3x640x640: {args.spans} spans of {args.frames} frames: "
          f"{min(rates):.2f}-{max(rates):.2f} frames/s (median {np.median(rates):.2f}); "
          f"foreign load {monitor.record['foreign_cores']:.2f} cores", flush=True)
    print("spans: " + ", ".join(f"{r:.2f}" for r in rates), flush=True)
    write_result(args.name, {"model": model.name, "frames_per_span": args.frames, "fps_spans": rates,
                             "fps_min": min(rates), "fps_max": max(rates), "fps_median": float(np.median(rates))},
                 load=monitor.record)


if __name__ == "__main__":
    main()
