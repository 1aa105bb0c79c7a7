"""INT8 against FP32 engine frames/s, interleaved, at the pipeline's input shape and batch sizes.

Both files run in jetsentry's OnnxRuntimeEngine as the pipeline configures it on this machine
(threads 0 = one per core, parallel_runs auto; an INT8 file on x86 gets unsigned activations,
infer/qdq_cpu.py), on the same letterboxed frames: for the default model the 640x360 sample
scene (a 384x640 rectangle), for the COCO model the 1080p photo clip (640x640, static batch 1).
Rounds alternate FP32 and INT8 runs of `--frames` frames each, so both sample the host's
drifting speed alike; the ratio is of pooled rates (all frames over all time).

    python bench/bench_int8.py [--model FP32.onnx --int8 INT8.onnx] [--video VIDEO] [--batch 1 4]
        [--rounds 6] [--frames 40] [--name NAME]

Without --int8 the INT8 file beside the model (NAME.int8.onnx) is used.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from common import CpuMonitor, write_result

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "engines" / "models" / "jetsentry-default.onnx"
SAMPLE_SCENE = REPO / "engines" / "samples" / "sample-scene.mp4"


def letterboxed(model: Path, video: Path, batch: int, input_size: int) -> np.ndarray:
    """[batch, 3, H, W]: frames spread over the video, letterboxed as the pipeline does."""
    import cv2

    from jetsentry.infer.model_info import ModelInfo
    from jetsentry.infer.preprocess import Preprocessor

    capture, images = cv2.VideoCapture(str(video)), []
    index = 0
    while len(images) < batch:
        ok, frame = capture.read()
        if not ok:
            break
        if index % 30 == 0:
            images.append(frame)
        index += 1
    images += [images[-1]] * (batch - len(images))
    tensor, _ = Preprocessor(ModelInfo.from_onnx(model), input_size)(images)
    return tensor.copy()


def op_type_ms(engine, tensor: np.ndarray, runs: int = 10) -> dict[str, float]:
    """Mean ms per operator type of one frame on one thread, from ONNX Runtime's profile of the
    model the engine loads (after its CPU rewrite): where the time goes in each file."""
    import json

    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(tempfile.gettempdir()) / "bench-int8-profile")
    session = ort.InferenceSession(engine._model, options, providers=["CPUExecutionProvider"])
    for _ in range(runs):
        session.run(None, {engine.info.input_name: tensor})
    profile = Path(session.end_profiling())
    totals: dict[str, float] = {}
    for event in json.loads(profile.read_text()):
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            op = event["args"]["op_name"]
            totals[op] = totals.get(op, 0.0) + event["dur"] / 1e3 / runs
    profile.unlink()
    return {op: round(ms, 2) for op, ms in sorted(totals.items(), key=lambda kv: -kv[1])}


def main() -> int:
    from jetsentry.infer.onnx_engine import OnnxRuntimeEngine

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="FP32 model")
    parser.add_argument("--int8", type=Path, help="INT8 model (default: MODEL.int8.onnx beside it)")
    parser.add_argument("--video", type=Path, default=SAMPLE_SCENE, help="frames to letterbox")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--frames", type=int, default=40, help="frames per timed run")
    parser.add_argument("--input-size", type=int, default=640)
    parser.add_argument("--name", default=None)
    args = parser.parse_args()
    int8 = args.int8 or args.model.with_name(args.model.stem + ".int8.onnx")
    engines = {"fp32": OnnxRuntimeEngine(args.model, threads=0, parallel_runs="auto"),
               "int8": OnnxRuntimeEngine(int8, threads=0, parallel_runs="auto")}
    results, loads = {}, {}
    for batch in args.batch:
        tensor = letterboxed(args.model, args.video, batch, args.input_size)
        runs = max(1, args.frames // batch)
        for engine in engines.values():  # warm-up
            for _ in range(3):
                engine.infer(tensor)
        seconds = {name: [] for name in engines}
        with CpuMonitor() as monitor:
            for _ in range(args.rounds):
                for name, engine in engines.items():
                    started = time.perf_counter()
                    for _ in range(runs):
                        engine.infer(tensor)
                    seconds[name].append(time.perf_counter() - started)
        frames = runs * batch
        fps = {name: [round(frames / s, 2) for s in spans] for name, spans in seconds.items()}
        pooled = {name: frames * len(spans) / sum(spans) for name, spans in seconds.items()}
        results[f"batch{batch}"] = {
            "input": "x".join(map(str, tensor.shape)),
            "fps_per_round": fps,
            "pooled_fps": {name: round(v, 2) for name, v in pooled.items()},
            "ratio_int8_to_fp32": round(pooled["int8"] / pooled["fp32"], 3),
            "ratio_per_round": [round(i / f, 3) for i, f in zip(fps["int8"], fps["fp32"])],
        }
        loads[f"batch{batch}"] = monitor.record
        print(f"batch {batch} ({results[f'batch{batch}']['input']}): FP32 {pooled['fp32']:.1f} frames/s, "
              f"INT8 {pooled['int8']:.1f} frames/s: INT8/FP32 {results[f'batch{batch}']['ratio_int8_to_fp32']:.2f} "
              f"(rounds {results[f'batch{batch}']['ratio_per_round']}); load {os.getloadavg()[0]:.2f}", flush=True)
    profile = {name: op_type_ms(engine, letterboxed(args.model, args.video, 1, args.input_size))
               for name, engine in engines.items()}
    for name, times in profile.items():
        print(f"{name} one frame, one thread, ms by operator: " + ", ".join(f"{k} {v}" for k, v in
                                                                          list(times.items())[:6]), flush=True)
    write_result(args.name or f"int8_engine_{args.model.stem}", {
        "model": str(args.model), "int8": str(int8), "video": str(args.video),
        "parallel_runs": engines["fp32"].parallel_runs, "batches": results, "op_type_ms_one_thread": profile,
    }, load=loads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
