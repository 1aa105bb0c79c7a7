"""The daemon's aggregate frames/s with several file cameras, against the raw engine at the daemon's batch.

`jetsentry run` with N cameras (default 4) all reading the 1080p clip in a loop (files
play at their own frame rate, 30 fps each), the COCO model and the default batching
(max_batch 4), publishing to a real Mosquitto.  After a warm-up, the detection
messages a subscriber receives give the aggregate frames/s.

This host's speed drifts by tens of percent within a minute, so the raw engine is
measured *inside* the daemon run: the daemon is frozen with SIGSTOP (it then uses no
CPU at all), raw ONNX Runtime runs at batch max_batch on the same letterboxed input,
the daemon continues (SIGCONT), settles, and is measured over a window; and so on.
The result is the ratio of the pooled rates of the windows and of the raw runs
(bench/interleave.py).  A window's frames/s is the number of
messages after its first burst divided by the time from the first burst to the last
(exact for batches arriving in bursts).  Also records per-camera counts, per-stage
latency and where the daemon spent its CPU (per thread group).

With --not-realtime the cameras are `realtime: false`: every frame of each file is
processed, as fast as inference takes them (recordings, not live cameras), so only
the frames that are used are decoded.

    python bench/bench_daemon.py [--cameras 4] [--clip-fps 30] [--not-realtime] [--windows 6] [--window 15]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path


import numpy as np

from bench_engine import letterboxed_batch, raw_ort_run
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
from interleave import add_window_arguments, burst_rate, frozen, judge_windows, verdict_line
from thread_cpu import ThreadCpuSampler

STAGES = ("decode_to_batch", "preprocess", "inference", "postprocess", "tracking", "total")


SETTLE_S = 3.0  # after SIGCONT: the batch in flight ends, paced files catch up with their clock


def measure_window(run: DaemonRun, window_s: float) -> dict:
    """The running daemon over `window_s`: frames/s, per-camera counts, stage latency, CPU per thread."""
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
    return {
        "window_s": round(elapsed, 2),
        "messages": last - first,
        "fps": round(burst_rate([arrived for arrived, _ in messages]), 2),
        "per_camera": dict(sorted(Counter(msg["camera_id"] for _, msg in messages).items())),
        "latency_ms": {stage: stats_ms(msg["latency_ms"][stage] for _, msg in messages) for stage in STAGES},
        "thread_cpu_s": threads,
        "mosquitto_cpu_s": round(broker_cpu, 2),
        "load": monitor.record,
    }


def interleaved_run(cameras: list[Camera], model: Path, tensor, args, label: str) -> tuple[dict, dict]:
    """One daemon start; windows alternate with raw engine runs while the daemon is frozen."""
    # A frozen daemon sees no frames for a few seconds: that must not count as a stall.
    capture = {"stall_timeout_s": 120.0, "connect_timeout_s": 120.0}
    with DaemonRun(cameras, model, batching={"max_batch": args.max_batch}, capture=capture) as run:
        run.wait_for_messages(1, timeout_s=120)
        time.sleep(args.warmup)
        run.check_alive()
        raws = []
        with frozen(run.pid):
            raws.append(raw_ort_run(model, tensor, args.raw_frames, with_engine=True))
        windows = []
        for index in range(args.windows):
            time.sleep(SETTLE_S)
            window = measure_window(run, args.window)
            with frozen(run.pid):
                raws.append(raw_ort_run(model, tensor, args.raw_frames, with_engine=True))
            windows.append(window)
            print(f"{label} window {index + 1}: {window['messages']} messages in {window['window_s']:.1f} s (per camera "
                  + ", ".join(f"{cam} {n}" for cam, n in window["per_camera"].items())
                  + f") = {window['fps']:.2f} frames/s; foreign load {window['load']['foreign_cores']:.2f} cores",
                  flush=True)
        command = " ".join(run.command)
    fields = {"daemon_command": command, "input": "x".join(map(str, tensor.shape)), **judge_windows(windows, raws)}
    print(verdict_line(label, fields, fields["input"]), flush=True)
    median = windows[int(np.argsort(fields["ratios"])[(len(windows) - 1) // 2])]  # for latency and CPU details
    return median, fields


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "daemon_coco_4cam")
    parser.add_argument("--clip-fps", type=int, default=30,
                        help="frame rate of the generated photo clip (each camera delivers this many frames/s)")
    parser.add_argument("--clip-height", type=int, default=1080,
                        help="height of the generated 16:9 photo clip (360: a camera's substream)")
    parser.add_argument("--fps-cap", type=float, help="cameras[].fps_cap (default: none)")
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--not-realtime", action="store_true",
                        help="cameras[].realtime: false (every frame, as fast as inference takes them)")
    parser.add_argument("--max-batch", type=int, default=4, help="batching.max_batch (the daemon's default: 4)")
    add_window_arguments(parser, warmup_s=20.0, window_s=15.0, raw_frames=100, unit="message")  # raw: ~12 s
    args = parser.parse_args()

    model = chosen_model(args)
    clip = chosen_clip(args, args.clip_fps, height=args.clip_height)
    tensor = letterboxed_batch(model, clip, args.max_batch)
    options = {"on_eos": "loop", **({"fps_cap": args.fps_cap} if args.fps_cap else {})}
    if args.not_realtime:
        options["realtime"] = False
    cameras = [Camera(f"cam{i + 1}", str(clip), options) for i in range(args.cameras)]

    cap = f", fps_cap {args.fps_cap:g}" if args.fps_cap else ""
    cap += ", realtime false" if args.not_realtime else ""
    if not args.no_wait:
        wait_for_quiet()
    label = (f"bench_daemon {model.name}, {args.cameras} cameras of {clip.name} at {args.clip_fps} fps{cap}, "
             f"max_batch {args.max_batch}")
    median_run, fields = interleaved_run(cameras, model, tensor, args, label)
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
        "realtime": not args.not_realtime,
        "max_batch": args.max_batch,
        "warmup_s": args.warmup,
        **fields,
    }, load=loads)

if __name__ == "__main__":
    main()
