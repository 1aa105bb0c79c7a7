"""jetsentry's GPU frame path against Ultralytics `predict` on the same model and clip, interleaved.

The same model on both sides: the COCO YOLOv8n ONNX for jetsentry (ONNX Runtime CUDA, its
dynamic-batch copy from dynamic_batch.py), and for Ultralytics a YOLOv8n built from
`yolov8n.yaml`, fused, with every weight loaded by name from that ONNX (the export keeps the
PyTorch parameter names); the two are checked against each other on one frame first.

Ultralytics runs its own GPU path: PyTorch in FP16 (`quantize="fp16"`, formerly `half=True`), frames decoded by OpenCV on
the host, letterboxed by its LetterBox (rectangular for a single video: 384x640 for 1080p, where
jetsentry's engine runs the model's fixed 640x640).  For each stream count, in this order:
Ultralytics, jetsentry (NVDEC -> kernel -> ONNX Runtime CUDA -> NMS -> ByteTrack -> messages,
bench/gpu/end_to_end.py's `pipeline`), Ultralytics again.  One stream: `predict(CLIP)`; N
streams: one source after another (the 1-stream rate is that aggregate) and a multi-source
batch (`predict(FILE.streams, stream_buffer=True)`: every frame of every stream, batch N).

    python bench/gpu/ultralytics_compare.py --onnx yolov8n-coco.onnx --dynamic yolov8n-dyn.onnx --clip CLIP
    python bench/gpu/ultralytics_compare.py --onnx M.onnx --clip CLIP --ultralytics-only --device cpu --max-frames 8
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "daemon"), str(REPO)]
os.environ.setdefault("YOLO_OFFLINE", "1")  # nothing can be downloaded on the GPU machine

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402


def ultralytics_twin(onnx_path: Path, device: str):
    """A fused Ultralytics YOLOv8n carrying the ONNX model's weights, and its largest output difference
    from ONNX Runtime (CPU) on one frame of the same input."""
    import onnxruntime as ort
    import torch
    from ultralytics import YOLO

    model = onnx.load(str(onnx_path))
    weights = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    metadata = {p.key: p.value for p in model.metadata_props}
    yolo = YOLO("yolov8n.yaml")
    net = yolo.model.fuse()
    state = {}
    for name, value in net.state_dict().items():
        source = next((n for n in (name, name + "_quantized_deq") if n in weights), None)
        if source is None or tuple(weights[source].shape) != tuple(value.shape):
            raise SystemExit(f"{onnx_path.name} has no weight for {name} {tuple(value.shape)}: not a YOLOv8n export")
        state[name] = torch.from_numpy(weights[source].copy()).to(value.dtype)
    net.load_state_dict(state, strict=True)
    net.names = ast.literal_eval(metadata["names"])
    net.eval()
    frame = np.random.default_rng(0).random((1, 3, 640, 640), dtype=np.float32)
    reference = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"images": frame})[0]
    with torch.no_grad():
        output = net(torch.from_numpy(frame))
    output = (output[0] if isinstance(output, (list, tuple)) else output).numpy()
    difference = float(np.abs(output - reference).max())
    yolo.model = net
    return yolo, {"max_abs_difference": difference, "largest_value": float(np.abs(reference).max())}


def _timed(run) -> dict:
    before = resource.getrusage(resource.RUSAGE_SELF)
    began = time.perf_counter()
    frames = run()
    elapsed = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"frames": frames, "seconds": round(elapsed, 3), "fps": round(frames / elapsed, 1),
            "host_cpu_ms_per_frame": round(cpu / max(1, frames) * 1e3, 3)}


def ultralytics_run(yolo, clip: Path, streams: int, device: str, work: Path, max_frames: int | None) -> dict:
    options = {"stream": True, "quantize": None if device == "cpu" else "fp16", "device": device, "verbose": False, "conf": 0.25}
    if streams == 1:
        source = str(clip)
    else:
        source = work / f"clip-x{streams}.streams"
        source.write_text("\n".join([str(clip)] * streams) + "\n")
        source = str(source)
        options["stream_buffer"] = True  # every frame of every stream, as jetsentry's recordings

    def run() -> int:
        frames = 0
        for _ in yolo.predict(source=source, **options):
            frames += 1
            if max_frames and frames >= max_frames:
                break
        return frames

    result = _timed(run)
    result["mode"] = "one source" if streams == 1 else "multi-source batch"
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", type=Path, required=True, help="the COCO YOLOv8n ONNX (its weights for Ultralytics)")
    parser.add_argument("--dynamic", type=Path, help="its dynamic-batch copy for jetsentry (dynamic_batch.py)")
    parser.add_argument("--clip", type=Path, required=True)
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 8, 16])
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--device", default="0", help="Ultralytics' device (default 0: the first GPU)")
    parser.add_argument("--ultralytics-only", action="store_true", help="skip jetsentry (a check without a GPU)")
    parser.add_argument("--max-frames", type=int, help="stop each Ultralytics run after this many frames (a check)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if cv2.VideoCapture(str(args.clip)).get(cv2.CAP_PROP_FRAME_COUNT) <= 0:
        raise SystemExit(f"{args.clip}: OpenCV cannot read it")
    yolo, twin = ultralytics_twin(args.onnx, args.device)
    result: dict = {"date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv), "model": args.onnx.name,
                    "clip": args.clip.name, "same_model_check": twin, "runs": []}
    print(json.dumps(twin), flush=True)
    ultralytics_run(yolo, args.clip, 1, args.device, args.out, 16)  # its predictor set up and warmed
    import torch
    import ultralytics

    result["ultralytics"] = {"version": ultralytics.__version__, "torch": torch.__version__,
                             "fp16": bool(yolo.predictor.model.fp16), "device": str(yolo.predictor.device)}
    detector = None
    if not args.ultralytics_only:
        from bench.gpu.end_to_end import _model_config, pipeline
        from jetsentry.gpu.cuda import get_device
        from jetsentry.infer import Detector, EngineOptions

        result["card"] = get_device(0).info.name
        detector = Detector.from_config(_model_config(args.dynamic or args.onnx, args.max_batch),
                                        EngineOptions(max_batch=args.max_batch))
        pipeline(detector, args.clip, 1, args.max_batch)  # warm
    try:
        for streams in args.streams:
            entry = {"streams": streams,
                     "ultralytics_before": ultralytics_run(yolo, args.clip, streams, args.device, args.out,
                                                           args.max_frames)}
            if detector is not None:
                run = pipeline(detector, args.clip, streams, args.max_batch)
                entry["jetsentry"] = {k: run[k] for k in ("frames", "seconds", "fps", "mean_batch", "errors")}
                entry["jetsentry"]["host_cpu_ms_per_frame"] = run["cpu_ms_per_frame"]["whole_process"]
            entry["ultralytics_after"] = ultralytics_run(yolo, args.clip, streams, args.device, args.out,
                                                         args.max_frames)
            reference = (entry["ultralytics_before"]["fps"] + entry["ultralytics_after"]["fps"]) / 2
            if detector is not None:
                entry["ratio"] = round(entry["jetsentry"]["fps"] / reference, 2)
                one_after_another = (result["runs"][0] if result["runs"] else entry)
                entry["ratio_to_one_source_after_another"] = round(
                    entry["jetsentry"]["fps"] / ((one_after_another["ultralytics_before"]["fps"]
                                                  + one_after_another["ultralytics_after"]["fps"]) / 2), 2)
            result["runs"].append(entry)
            print(json.dumps(entry), flush=True)
    finally:
        if detector is not None:
            detector.close()
    (args.out / "ultralytics_compare.json").write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
