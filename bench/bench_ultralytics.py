"""Ultralytics `YOLO(onnx).track(source=clip, stream=True)` frames/s on the same clip and model as `jetsentry analyze`.

Ultralytics (test/bench-only dependency) runs the same ONNX file through ONNX Runtime
(CPU provider, default session options), reads the video with OpenCV, letterboxes,
decodes + NMS and tracks with its own ByteTrack (`--tracker bytetrack.yaml`, the
tracker jetsentry implements; Ultralytics' default is botsort.yaml).  Frames/s is
taken over the whole stream (including the first frame, as `jetsentry analyze` does);
the steady rate from the second frame on is reported too.  Each run is a fresh process,
between two raw ONNX Runtime runs (as in bench_analyze.py), so its ratio to raw can be
set beside analyze's.

    python bench/bench_ultralytics.py [--model ONNX] [--clip VIDEO] [--tracker bytetrack.yaml] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")  # no network checks: nothing can be reached here anyway

import numpy as np  # noqa: E402

from bench_engine import bracketed_by_raw, letterboxed_batch  # noqa: E402
from common import PYTHON, CpuMonitor, bench_arguments, chosen_clip, chosen_model, skip, wait_for_quiet  # noqa: E402
from common import write_result  # noqa: E402


def track_once(model_path: Path, clip: Path, tracker: str) -> dict:
    from ultralytics import YOLO

    model = YOLO(str(model_path), task="detect")
    speeds: dict[str, list[float]] = {"preprocess": [], "inference": [], "postprocess": []}
    frames = detections = 0
    first_at = None
    started = time.perf_counter()
    for result in model.track(source=str(clip), stream=True, tracker=tracker, imgsz=640, verbose=False):
        frames += 1
        detections += len(result.boxes)
        for stage in speeds:
            speeds[stage].append(result.speed[stage])
        if first_at is None:
            first_at = time.perf_counter()
    ended = time.perf_counter()
    return {
        "frames": frames,
        "detections": detections,
        "seconds": round(ended - started, 3),
        "fps": round(frames / (ended - started), 2),
        "fps_after_first": round((frames - 1) / (ended - first_at), 2) if frames > 1 else None,
        "mean_ms": {stage: round(float(np.mean(v)), 3) for stage, v in speeds.items()},
    }


def run_in_child(model: Path, clip: Path, tracker: str) -> dict:
    """One track_once in a fresh process (torch's thread pools must not linger into the raw runs)."""
    with CpuMonitor() as monitor:
        out = subprocess.run([PYTHON, __file__, "--child", str(model), str(clip), tracker], capture_output=True,
                             text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"Ultralytics run failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "load": monitor.record}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "ultralytics_track_coco_1080p")
    parser.add_argument("--tracker", default="bytetrack.yaml", help="Ultralytics tracker config")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--raw-frames", type=int, default=60, help="frames timed per raw engine run")
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "CLIP", "TRACKER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(track_once(Path(args.child[0]), Path(args.child[1]), args.child[2])))
        return

    try:
        import ultralytics
    except ImportError:
        skip("ultralytics is not installed (pip install ultralytics; bench/test only)")
    model = chosen_model(args)
    clip = chosen_clip(args)
    tensor = letterboxed_batch(model, clip, 1)

    def describe(run: dict) -> str:
        return (f"{run['frames']} frames, mean ms " + ", ".join(f"{k} {v:.2f}" for k, v in run["mean_ms"].items())
                + f"; {run['fps']:.2f} frames/s ({run['fps_after_first']:.2f} after the first)")

    if not args.no_wait:
        wait_for_quiet()
    _, fields = bracketed_by_raw(model, tensor, args.raw_frames, args.repeat,
                                 f"bench_ultralytics {model.name} track({args.tracker}, stream=True)",
                                 lambda: run_in_child(model, clip, args.tracker), lambda run: run["fps"], describe,
                                 judge=False)
    loads = fields.pop("loads")
    write_result(args.name, {
        "model": model.name,
        "clip": clip.name,
        "ultralytics": ultralytics.__version__,
        "tracker": args.tracker,
        **fields,
    }, load=loads)

if __name__ == "__main__":
    main()
