"""FP16 and INT8 files against FP32 under ONNX Runtime's CUDA provider (and its CPU provider).

Made for the lent GPU machine, where only numpy, onnx, onnxruntime-gpu and opencv are needed
(no GStreamer, no Ultralytics, no pydantic): frames come from a video through OpenCV or from a
folder of images, are letterboxed by jetsentry's own infer-stage code, and every file runs on
each provider.  For each file and provider the JSON records:

  - where its nodes ran (from ONNX Runtime's profile: nodes per execution provider, so CPU
    fallbacks under the CUDA provider show),
  - its raw output against FP32 on the same provider and against FP32 on the CPU: max and
    mean absolute differences of the box values and of the scores,
  - its detections (score > 0.25) against FP32's: the share of FP32 boxes matched at IoU >= 0.9
    with the same class ("agreement", greedy by score), and the score differences of the pairs,
  - mean milliseconds per run after warm-up (informative: one stream, host buffers),
  - verdicts against the tolerances below.

    python3 bench/gpu/check_quantized_cuda.py --fp32 M.onnx --fp16 M.fp16.onnx --int8 M.int8.onnx \
        --frames engines/samples/sample-scene.mp4 --out "$OUT/check_quantized_cuda.json" [--count 16] \
        [--providers cuda cpu] [--input-size 640]

Exit status 0 when every file meets its tolerance on every provider, 1 when one does not, 2 for
bad arguments or a provider that is not there.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "daemon"))

from jetsentry.infer.model_info import ModelInfo  # noqa: E402
from jetsentry.infer.postprocess import PostprocessSettings, postprocess  # noqa: E402
from jetsentry.infer.preprocess import Preprocessor  # noqa: E402
from jetsentry.infer.qdq_cpu import cpu_form  # noqa: E402

PROVIDERS = {"cuda": "CUDAExecutionProvider", "cpu": "CPUExecutionProvider"}
CONFIDENCE = 0.25
MATCH_IOU = 0.9
# Tolerances against FP32: agreement of detections and the largest score difference of matched pairs.
TOLERANCE = {"fp16": {"agreement": 0.99, "max_score_diff": 0.02},
             "int8": {"agreement": 0.95, "mean_score_diff": 0.03}}
WARMUP_RUNS = 3


def read_frames(source: Path, count: int) -> list[np.ndarray]:
    """``count`` BGR frames spread evenly over a video (OpenCV) or a folder of images."""
    if source.is_dir():
        paths = sorted(p for p in source.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".bmp"})
        images = [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in paths]
    else:
        capture = cv2.VideoCapture(str(source))
        images = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            images.append(frame)
        capture.release()
    images = [image for image in images if image is not None]
    if not images:
        raise SystemExit(f"check_quantized_cuda: no frames could be read from {source}")
    indices = sorted({int(i) for i in np.linspace(0, len(images) - 1, min(count, len(images))).round()})
    return [images[i] for i in indices]


def session(path: Path, provider: str, profile_dir: Path | None = None) -> tuple[ort.InferenceSession, str]:
    """A session on ``provider`` (falling back to the CPU for nodes it lacks), profiling into
    ``profile_dir`` if given; the INT8 file on the CPU gets the CPU engine's form (infer/qdq_cpu.py)."""
    options = ort.SessionOptions()
    if profile_dir is not None:
        options.enable_profiling = True
        options.profile_file_prefix = str(profile_dir / f"{path.stem}-{provider}")
    model: str | bytes = str(path)
    form = "file as written"
    if provider == "CPUExecutionProvider" and ModelInfo.from_onnx(path).precision == "int8":
        rewritten = cpu_form(onnx.load(str(path)))
        if rewritten is not None:
            model, form = rewritten.SerializeToString(), "jetsentry's CPU engine form (infer/qdq_cpu.py)"
    providers = [provider] if provider == "CPUExecutionProvider" else [provider, "CPUExecutionProvider"]
    created = ort.InferenceSession(model, options, providers=providers)
    if created.get_providers()[0] != provider:
        raise SystemExit(f"check_quantized_cuda: ONNX Runtime fell back from {provider} to "
                         f"{created.get_providers()[0]} for {path}")
    return created, form


def nodes_per_provider(profile: str) -> dict[str, int]:
    counts: dict[str, set[str]] = {}
    for event in json.loads(Path(profile).read_text()):
        args = event.get("args", {})
        if event.get("cat") == "Node" and "provider" in args:
            counts.setdefault(args["provider"], set()).add(event["name"].removesuffix("_kernel_time"))
    return {provider: len(names) for provider, names in sorted(counts.items())}


def run_file(path: Path, provider: str, tensors: list[np.ndarray], work: Path) -> dict:
    info = ModelInfo.from_onnx(path)
    feed_type = np.float16 if info.input_dtype == "float16" else np.float32
    feeds = [{info.input_name: tensor.astype(feed_type)} for tensor in tensors]
    profiled, form = session(path, provider, work)  # one run, to see where the nodes ran
    profiled.run([info.output_name], feeds[0])
    placement = nodes_per_provider(profiled.end_profiling())
    created, _ = session(path, provider)
    outputs = [created.run([info.output_name], feed)[0].astype(np.float32) for feed in feeds]
    for _ in range(WARMUP_RUNS):
        created.run([info.output_name], feeds[0])
    started = time.perf_counter()
    for feed in feeds:
        created.run([info.output_name], feed)
    ms = (time.perf_counter() - started) * 1e3 / len(feeds)
    return {"info": info, "outputs": outputs, "form": form, "ms_per_run": round(ms, 3),
            "nodes_per_provider": placement}


def output_differences(outputs: list[np.ndarray], reference: list[np.ndarray], layout: str) -> dict:
    ours, theirs = np.concatenate(outputs), np.concatenate(reference)
    if ours.shape != theirs.shape:
        return {"shape": list(ours.shape), "reference_shape": list(theirs.shape)}
    if layout == "anchors":  # [B, 4+C, N]: box rows, then score rows
        boxes, scores = np.abs(ours[:, :4] - theirs[:, :4]), np.abs(ours[:, 4:] - theirs[:, 4:])
    else:  # [B, K, 6]: rows are ranked, so only the scores of the top rows compare directly
        boxes, scores = np.abs(ours[..., :4] - theirs[..., :4]), np.abs(ours[..., 4] - theirs[..., 4])
    return {"box_max": round(float(boxes.max()), 5), "box_mean": round(float(boxes.mean()), 5),
            "score_max": round(float(scores.max()), 5), "score_mean": round(float(scores.mean()), 6)}


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
    area_a, area_b = np.prod(a[:, 2:] - a[:, :2], axis=1), np.prod(b[:, 2:] - b[:, :2], axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def agreement(ours: list, theirs: list) -> dict:
    """Share of the reference's boxes matched one-to-one (greedy, best IoU first) at IoU >= 0.9, same class."""
    matched, total, diffs = 0, 0, []
    for mine, reference in zip(ours, theirs):
        total += len(reference)
        if not len(mine) or not len(reference):
            continue
        iou = _iou(reference.boxes.astype(np.float64), mine.boxes.astype(np.float64))
        iou[reference.class_ids[:, None] != mine.class_ids[None, :]] = 0
        while True:
            r, c = np.unravel_index(np.argmax(iou), iou.shape)
            if iou[r, c] < MATCH_IOU:
                break
            matched += 1
            diffs.append(abs(float(reference.scores[r]) - float(mine.scores[c])))
            iou[r, :], iou[:, c] = 0, 0
    return {"reference_boxes": total, "boxes": sum(len(d) for d in ours), "matched": matched,
            "agreement": round(matched / total, 4) if total else 1.0,
            "max_score_diff": round(max(diffs), 5) if diffs else 0.0,
            "mean_score_diff": round(float(np.mean(diffs)), 5) if diffs else 0.0}


def detections(outputs: list[np.ndarray], boxes: list, info: ModelInfo, layout: str) -> list:
    settings = PostprocessSettings(confidence=CONFIDENCE, num_classes=info.num_classes)
    return [postprocess(output, [box], settings, layout)[0] for output, box in zip(outputs, boxes)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fp32", type=Path, required=True)
    parser.add_argument("--fp16", type=Path)
    parser.add_argument("--int8", type=Path)
    parser.add_argument("--frames", type=Path, required=True, help="a video (read by OpenCV) or a folder of images")
    parser.add_argument("--count", type=int, default=16, help="frames spread over the source (default 16)")
    parser.add_argument("--input-size", type=int, default=640)
    parser.add_argument("--providers", nargs="+", choices=sorted(PROVIDERS), default=["cuda", "cpu"])
    parser.add_argument("--out", type=Path, required=True, help="the JSON to write")
    args = parser.parse_args()

    available = ort.get_available_providers()
    missing = [PROVIDERS[p] for p in args.providers if PROVIDERS[p] not in available]
    if missing:
        print(f"check_quantized_cuda: this onnxruntime {ort.__version__} lacks {', '.join(missing)} "
              f"(available: {', '.join(available)})", file=sys.stderr)
        return 2
    files = {"fp32": args.fp32, "fp16": args.fp16, "int8": args.int8}
    files = {name: path for name, path in files.items() if path is not None}
    for name, path in files.items():
        if not path.is_file():
            print(f"check_quantized_cuda: --{name} {path} does not exist", file=sys.stderr)
            return 2
    info = ModelInfo.from_onnx(args.fp32)
    frames = read_frames(args.frames, args.count)
    preprocess = Preprocessor(info, args.input_size)
    tensors, boxes = [], []
    for frame in frames:  # the preprocessor reuses its buffer: copy each tensor before the next call
        tensor, (box,) = preprocess([frame])
        tensors.append(tensor.copy())
        boxes.append(box)

    report = {"onnxruntime": ort.__version__, "available_providers": available, "python": platform.python_version(),
              "frames": {"source": str(args.frames), "count": len(frames), "input": list(tensors[0].shape)},
              "files": {name: {"path": str(path), "sha256_prefix": ModelInfo.from_onnx(path).sha256[:16],
                               "precision": ModelInfo.from_onnx(path).precision} for name, path in files.items()},
              "tolerance": TOLERANCE, "results": {}}
    ok = True
    with tempfile.TemporaryDirectory(prefix="check-quantized-") as work:
        runs = {(name, p): run_file(path, PROVIDERS[p], tensors, Path(work))
                for p in args.providers for name, path in files.items()}
    layout = next(iter(runs.values()))["info"].output_layout or "anchors"
    cpu_reference = runs.get(("fp32", "cpu"))
    for (name, provider), run in runs.items():
        reference = runs[("fp32", provider)]
        row = {"form": run["form"], "ms_per_run": run["ms_per_run"], "nodes_per_provider": run["nodes_per_provider"],
               "output_vs_fp32_same_provider": output_differences(run["outputs"], reference["outputs"], layout)}
        if cpu_reference is not None:
            row["output_vs_fp32_cpu"] = output_differences(run["outputs"], cpu_reference["outputs"], layout)
        ours = detections(run["outputs"], boxes, run["info"], layout)
        row["detections_vs_fp32_same_provider"] = agreement(ours, detections(reference["outputs"], boxes, info, layout))
        if cpu_reference is not None:
            row["detections_vs_fp32_cpu"] = agreement(ours, detections(cpu_reference["outputs"], boxes, info, layout))
        tolerance = TOLERANCE.get(name)
        if tolerance:
            measured = row["detections_vs_fp32_same_provider"]
            row["within_tolerance"] = all(
                measured[key] >= limit if key == "agreement" else measured[key] <= limit
                for key, limit in tolerance.items())
            ok &= row["within_tolerance"]
        report["results"][f"{name}/{provider}"] = row
        print(f"{name:5s} on {provider:4s}: agreement {row['detections_vs_fp32_same_provider']['agreement']:.3f} "
              f"({row['detections_vs_fp32_same_provider']['reference_boxes']} FP32 boxes), "
              f"score diff max {row['detections_vs_fp32_same_provider']['max_score_diff']:.4f}, "
              f"{run['ms_per_run']:.2f} ms/run, nodes {run['nodes_per_provider']}"
              + ("" if tolerance is None else f", within tolerance: {row['within_tolerance']}"), flush=True)
    report["all_within_tolerance"] = ok
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
