"""The daemon's aggregate frames/s with several file cameras, against the raw engine at the daemon's batch.

`jetsentry run` with N cameras (default 4) all looping the 1080p photo clip (live:
each plays at the clip's 30 fps, newest frame wins; `--not-realtime`: recordings, every
frame handed over as fast as inference takes them), the COCO model and the default
batching (max_batch 4), publishing to a real Mosquitto.  `--rounds` daemon runs alternate
with raw ONNX Runtime runs at batch max_batch on the same letterboxed input
(common.alternate).  Each daemon run starts the daemon, waits `--warmup` s after its first
message, counts the messages a subscriber receives over `--window` s, and stops it; its
frames/s is the messages after the first burst over the time from the first burst to
the last.  Also records per-camera counts, per-stage latency and the daemon's CPU use.

    python bench/bench_daemon.py [--cameras 4] [--clip-height 1080] [--not-realtime] [--rounds 4] [--window 20]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from bench_engine import letterboxed_batch, raw_engine
from common import alternate, bench_arguments, burst_span, chosen_clip, chosen_model, process_cpu_s, stats_ms
from common import wait_for_quiet, write_result
from daemon_run import Camera, DaemonRun, daemon_config, message_fields

STAGES = ("decode_to_batch", "preprocess", "inference", "postprocess", "tracking", "total")


def daemon_run(cameras: list[Camera], model: Path, args) -> dict:
    """One daemon start: warm-up, one counted window, stop."""
    with DaemonRun(cameras, model, batching={"max_batch": args.max_batch}) as run:
        run.wait_for_messages(1, timeout_s=120)
        time.sleep(args.warmup)
        first, cpu0 = run.subscriber.count(), process_cpu_s(run.pid)
        time.sleep(args.window)
        last, cpu = run.subscriber.count(), process_cpu_s(run.pid) - cpu0
        run.check_alive()
        messages = message_fields(run.subscriber.timed_messages(first)[: last - first])
    frames, seconds = burst_span([arrived for arrived, _ in messages])
    return {
        "frames": frames,
        "seconds": seconds,
        "per_camera": dict(sorted(Counter(msg["camera_id"] for _, msg in messages).items())),
        "latency_ms": {stage: stats_ms(msg["latency_ms"][stage] for _, msg in messages) for stage in STAGES},
        "daemon_cores": round(cpu / args.window, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "daemon_coco_4cam")
    parser.add_argument("--clip-fps", type=int, default=30, help="frame rate of the generated photo clip")
    parser.add_argument("--clip-height", type=int, default=1080,
                        help="height of the generated 16:9 photo clip (360: a camera's substream)")
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--not-realtime", action="store_true",
                        help="cameras[].realtime: false (every frame, as fast as inference takes them)")
    parser.add_argument("--max-batch", type=int, default=4, help="batching.max_batch (the daemon's default: 4)")
    parser.add_argument("--rounds", type=int, default=4, help="daemon runs, each between two raw engine runs")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds after the first message, not counted")
    parser.add_argument("--window", type=float, default=20.0, help="seconds counted per daemon run")
    parser.add_argument("--raw-frames", type=int, default=200, help="frames timed per raw engine run")
    args = parser.parse_args()

    model = chosen_model(args)
    clip = chosen_clip(args, args.clip_fps, height=args.clip_height)
    tensor = letterboxed_batch(model, clip, args.max_batch)
    options = {"on_eos": "loop", **({"realtime": False} if args.not_realtime else {})}
    cameras = [Camera(f"cam{i + 1}", str(clip), options) for i in range(args.cameras)]
    raw = raw_engine(model, tensor, args.raw_frames)
    if not args.no_wait:
        wait_for_quiet()
    kind = "recordings" if args.not_realtime else f"live at {args.clip_fps} fps"
    label = f"bench_daemon {model.name}, {args.cameras} cameras of {clip.name} ({kind}), max_batch {args.max_batch}"
    result = alternate(lambda: daemon_run(cameras, model, args), raw, args.rounds, label)
    config = daemon_config(cameras, model, batching={"max_batch": args.max_batch})
    write_result(args.name, {
        "model": model.name,
        "clip": clip.name,
        "cameras": args.cameras,
        "camera_fps": args.clip_fps,
        "realtime": not args.not_realtime,
        "max_batch": args.max_batch,
        "input": "x".join(map(str, tensor.shape)),
        "warmup_s": args.warmup,
        "window_s": args.window,
        "daemon_config": config,
        **result,
    })


if __name__ == "__main__":
    main()
