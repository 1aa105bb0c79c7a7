"""The daemon's aggregate frames/s with several file cameras, against the raw engine at the daemon's batch.

`jetsentry run` with N cameras (default 4) all reading the 1080p clip in a loop (files
play at their own frame rate, 30 fps each), the COCO model and the default batching
(max_batch 4), publishing to a real Mosquitto.  After a warm-up, the detection
messages a subscriber receives over a fixed window give the aggregate frames/s.  Raw
ONNX Runtime frames/s at batch max_batch (plain session.run, same letterboxed input)
is measured before and after every daemon run, which is compared with the mean of
the two (this host's speed drifts over minutes); the median ratio is the result.
Also records per-camera counts, per-stage latency and where the daemon spent its CPU
(per thread group).

    python bench/bench_daemon.py [--cameras 4] [--clip-fps 30] [--warmup 20] [--window 40] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path


from bench_engine import bracketed_by_raw, letterboxed_batch
from common import (
    CpuMonitor,
    bench_arguments,
    chosen_clip,
    chosen_model,
    process_cpu_s,
    stats_ms,
    wait_for_quiet,
    write_result,
)
from daemon_run import Camera, DaemonRun, message_fields
from thread_cpu import ThreadCpuSampler

STAGES = ("decode_to_batch", "preprocess", "inference", "postprocess", "tracking", "total")


def daemon_run(cameras: list[Camera], model: Path, max_batch: int, warmup_s: float, window_s: float) -> dict:
    """One daemon start: messages counted over `window_s` after `warmup_s`, stage latency, CPU per thread."""
    with DaemonRun(cameras, model, batching={"max_batch": max_batch}) as run:
        run.wait_for_messages(1, timeout_s=120)
        time.sleep(warmup_s)
        run.check_alive()
        with CpuMonitor() as monitor:
            first = run.subscriber.count()
            sampler = ThreadCpuSampler(run.pid).start()
            broker_cpu0 = process_cpu_s(run.broker.pid)
            started = time.monotonic()
            time.sleep(window_s)
            last = run.subscriber.count()
            elapsed = time.monotonic() - started
            threads = sampler.stop()
            broker_cpu = process_cpu_s(run.broker.pid) - broker_cpu0
            monitor.sample_own()
        run.check_alive()
        messages = message_fields(run.subscriber.timed_messages(first)[: last - first])
        command = " ".join(run.command)
    return {
        "daemon_command": command,
        "window_s": round(elapsed, 2),
        "messages": last - first,
        "fps": round((last - first) / elapsed, 2),
        "per_camera": dict(sorted(Counter(msg["camera_id"] for _, msg in messages).items())),
        "latency_ms": {stage: stats_ms(msg["latency_ms"][stage] for _, msg in messages) for stage in STAGES},
        "thread_cpu_s": threads,
        "mosquitto_cpu_s": round(broker_cpu, 2),
        "load": monitor.record,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "daemon_coco_4cam")
    parser.add_argument("--clip-fps", type=int, default=30,
                        help="frame rate of the generated photo clip (each camera delivers this many frames/s)")
    parser.add_argument("--fps-cap", type=float, help="cameras[].fps_cap (default: none)")
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--max-batch", type=int, default=4, help="batching.max_batch (the daemon's default: 4)")
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds after the first message, not counted")
    parser.add_argument("--window", type=float, default=40.0, help="seconds counted per daemon run")
    parser.add_argument("--repeat", type=int, default=3, help="daemon runs, each between two raw engine runs")
    parser.add_argument("--raw-frames", type=int, default=60, help="frames timed per raw engine run")
    args = parser.parse_args()

    model = chosen_model(args)
    clip = chosen_clip(args, args.clip_fps)
    tensor = letterboxed_batch(model, clip, args.max_batch)
    options = {"on_eos": "loop", **({"fps_cap": args.fps_cap} if args.fps_cap else {})}
    cameras = [Camera(f"cam{i + 1}", str(clip), options) for i in range(args.cameras)]

    def describe(run: dict) -> str:
        return (f"{run['messages']} messages in {run['window_s']:.1f} s (per camera "
                + ", ".join(f"{cam} {n}" for cam, n in run["per_camera"].items()) + f") = {run['fps']:.2f} frames/s")

    cap = f", fps_cap {args.fps_cap:g}" if args.fps_cap else ""
    if not args.no_wait:
        wait_for_quiet()
    median_run, fields = bracketed_by_raw(
        model, tensor, args.raw_frames, args.repeat,
        f"bench_daemon {model.name}, {args.cameras} cameras at {args.clip_fps} fps{cap}, max_batch {args.max_batch}",
        lambda: daemon_run(cameras, model, args.max_batch, args.warmup, args.window), lambda run: run["fps"],
        describe,
    )
    latency = median_run["latency_ms"]
    print("latency ms (mean): " + ", ".join(f"{s} {latency[s]['mean']:.1f}" for s in STAGES), flush=True)
    print("daemon CPU seconds by thread: " + ", ".join(f"{k} {v:.1f}" for k, v in median_run["thread_cpu_s"].items())
          + f"; mosquitto {median_run['mosquitto_cpu_s']:.1f}", flush=True)
    loads = fields.pop("loads")
    write_result(args.name, {
        "model": model.name,
        "clip": clip.name,
        "cameras": args.cameras,
        "camera_fps": args.clip_fps,
        "fps_cap": args.fps_cap,
        "max_batch": args.max_batch,
        "warmup_s": args.warmup,
        **fields,
    }, load=loads)

if __name__ == "__main__":
    main()
