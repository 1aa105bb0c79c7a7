"""`jetsentry analyze` frames/s on one video (1 camera), against the raw engine at the same shape and batch.

Runs the real command line (`jetsentry analyze VIDEO --model ONNX --batch N`) as a
subprocess `--repeat` times and reads frames/s from its JSON summary line.  Raw ONNX
Runtime frames/s (plain session.run on the same letterboxed input and batch) is
measured before and after every analyze run, and each run is compared with the mean
of the two: this host's speed drifts by tens of percent over minutes.  The median of
the ratios is the result.  Also records where the analyze process spent its CPU (per
thread group).

    python bench/bench_analyze.py [--model ONNX] [--clip VIDEO] [--batch 1] [--repeat 3] [--name NAME]
"""

from __future__ import annotations

import argparse
import json
import subprocess


from bench_engine import bracketed_by_raw, letterboxed_batch
from common import JETSENTRY, CpuMonitor, bench_arguments, chosen_clip, chosen_model, wait_for_quiet, write_result
from thread_cpu import ThreadCpuSampler

def run_analyze(command: list[str]) -> dict:
    """One `jetsentry analyze` run: its JSON summary plus CPU load and per-thread CPU."""
    with CpuMonitor() as monitor:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sampler = ThreadCpuSampler(process.pid).start()
        try:
            stdout, stderr = process.communicate(timeout=1800)
        finally:
            threads = sampler.stop()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}:\n{stderr}")
    summary = json.loads(stdout.strip().splitlines()[-1])
    return {"summary": summary, "thread_cpu_s": threads, "load": monitor.record}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "analyze_coco_1080p")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--input-size", type=int, default=640, help="longest side for dynamic-shape models")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--raw-frames", type=int, default=60, help="frames timed per raw engine run")
    args = parser.parse_args()

    model = chosen_model(args)
    clip = chosen_clip(args)
    command = [JETSENTRY, "analyze", str(clip), "--model", str(model), "--batch", str(args.batch),
               "--input-size", str(args.input_size)]

    tensor = letterboxed_batch(model, clip, args.batch, args.input_size)

    def describe(run: dict) -> str:
        summary = run["summary"]
        return (f"{summary['frames']} frames, mean ms "
                + ", ".join(f"{k} {v:.2f}" for k, v in summary["mean_ms"].items())
                + f"; {summary['fps']:.2f} frames/s")

    if not args.no_wait:
        wait_for_quiet()
    median_run, fields = bracketed_by_raw(model, tensor, args.raw_frames, args.repeat,
                                          f"bench_analyze {model.name} batch {args.batch}",
                                          lambda: run_analyze(command), lambda run: run["summary"]["fps"], describe)
    print("analyze CPU seconds by thread (median run): "
          + ", ".join(f"{k} {v:.1f}" for k, v in median_run["thread_cpu_s"].items()), flush=True)
    loads = fields.pop("loads")
    write_result(args.name, {
        "model": model.name,
        "clip": clip.name,
        "batch": args.batch,
        "command": " ".join(command),
        **fields,
    }, load=loads)


if __name__ == "__main__":
    main()
