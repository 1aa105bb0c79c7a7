"""`jetsentry analyze` with the INT8 model against Ultralytics `predict` (FP32, its own CPU path),
on the same 1080p clip and model, interleaved.

Each run is a fresh process over the whole clip; runs alternate analyze (INT8, and FP32 for
reference) and Ultralytics `YOLO(fp32.onnx).predict(source=clip, stream=True)`, `--repeat`
times, so all sample the host's drifting speed alike.  Frames/s is whole-clip (first frame
included, as analyze reports it); ratios are of pooled rates (all frames over all time).
analyze runs its defaults (ByteTrack on, messages built: more work than predict) at batch 1, or
--batch N (a static-batch model's N frames run side by side, one thread each); predict runs
batch 1, all the static-batch model takes.

    python bench/bench_analyze_int8.py --fp32 ../shared/models/yolov8n-coco.onnx --int8 COCO.int8.onnx \
        [--clip VIDEO] [--repeat 3] [--name NAME]

Without --clip the 1080p photo clip is made (tests/infer/photo_clip.py: 10 real photographs x
30 frames, 1920x1080, 30 fps) in bench/.cache/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import CpuMonitor, write_result

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "bench" / ".cache" / "photos-1920x1080-30x-30fps.mp4"
ULTRALYTICS_PREDICT = """
import json, os, sys, time
os.environ["YOLO_OFFLINE"] = "1"
from ultralytics import YOLO
model = YOLO(sys.argv[1], task="detect")
frames = detections = 0
started = time.perf_counter()
for result in model.predict(source=sys.argv[2], stream=True, imgsz=640, conf=0.25, verbose=False):
    frames += 1
    detections += len(result.boxes)
seconds = time.perf_counter() - started
print(json.dumps({"frames": frames, "seconds": round(seconds, 3), "fps": round(frames / seconds, 2),
                  "detections": detections}))
"""


def photo_clip() -> Path:
    if not CLIP.is_file():
        from tests.infer.photo_clip import make_photo_clip

        CLIP.parent.mkdir(exist_ok=True)
        make_photo_clip(CLIP, 1920, 1080, frames_per_photo=30, fps=30)
    return CLIP


def analyze(model: Path, clip: Path, batch: int = 1) -> dict:
    jetsentry = [sys.executable, "-m", "jetsentry", "analyze", str(clip), "--model", str(model), "--batch", str(batch)]
    done = subprocess.run(jetsentry, capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise SystemExit(f"analyze failed ({done.returncode}): {done.stderr[-2000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return {key: summary[key] for key in ("frames", "seconds", "fps", "detections", "mean_ms")}


def ultralytics(model: Path, clip: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", ULTRALYTICS_PREDICT, str(model), str(clip)],
                          capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise SystemExit(f"Ultralytics predict failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def pooled(runs: list[dict]) -> float:
    return sum(r["frames"] for r in runs) / sum(r["seconds"] for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fp32", type=Path, required=True)
    parser.add_argument("--int8", type=Path, required=True)
    parser.add_argument("--clip", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1,
                        help="analyze --batch (the static-batch model runs a batch's frames side by side)")
    parser.add_argument("--name", default="analyze_int8_vs_ultralytics_1080p")
    args = parser.parse_args()
    clip = args.clip or photo_clip()
    sides = {"analyze_int8": lambda: analyze(args.int8, clip, args.batch),
             "analyze_fp32": lambda: analyze(args.fp32, clip, args.batch),
             "ultralytics_predict_fp32": lambda: ultralytics(args.fp32, clip)}
    runs: dict[str, list[dict]] = {name: [] for name in sides}
    loads: dict[str, list[dict]] = {name: [] for name in sides}
    for round_index in range(args.repeat):
        for name, run in sides.items():
            with CpuMonitor() as monitor:
                result = run()
            runs[name].append(result)
            loads[name].append(monitor.record)
            print(f"round {round_index + 1} {name}: {result['fps']:.2f} frames/s ({result['frames']} frames, "
                  f"load {os.getloadavg()[0]:.2f})", flush=True)
    rates = {name: round(pooled(r), 2) for name, r in runs.items()}
    ratios = {
        "analyze_int8_to_ultralytics": round(rates["analyze_int8"] / rates["ultralytics_predict_fp32"], 3),
        "analyze_fp32_to_ultralytics": round(rates["analyze_fp32"] / rates["ultralytics_predict_fp32"], 3),
        "analyze_int8_to_fp32": round(rates["analyze_int8"] / rates["analyze_fp32"], 3),
    }
    print(f"pooled frames/s {rates}; ratios {ratios}")
    write_result(args.name, {"fp32": str(args.fp32), "int8": str(args.int8), "clip": str(clip),
                             "pooled_fps": rates, "ratios": ratios, "runs": runs}, load=loads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
