"""What a frame costs after inference, on one core: head decoding + NMS, tracking, the message (target <= 2 ms).

  postprocess  jetsentry.infer.postprocess on a YOLOv8 COCO-shaped head [1, 84, 8400] in
               which `--objects` objects each light up 10 neighbouring anchors (as a real
               head does) over background scores: about 500 candidates pass the 0.25
               threshold and `--objects` survive NMS;
  tracking     ByteTracker.update with `--objects` detections per frame, moving with
               constant velocity and bouncing off the frame edges (a tenth with low scores,
               for the second stage), in score order as after NMS;
  message      building the JSON message of a frame with `--objects` tracked detections
               (not part of the target).
The target is the sum of the postprocess and tracking medians.

    python bench/bench_frame_cost.py [--objects 50] [--frames 2000] [--core 0] [--name NAME]
"""

from __future__ import annotations

import os

# One core: the numeric libraries must not start thread pools (set before numpy loads).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from common import CpuMonitor, bench_arguments, stats_ms, wait_for_quiet, write_result  # noqa: E402

TARGET_MS = 2.0
ANCHORS_PER_OBJECT = 10
WIDTH, HEIGHT = 1920, 1080


def synthetic_head(objects: int, classes: int = 80, anchors: int = 8400, seed: int = 0) -> np.ndarray:
    """[1, 4+C, N]: `objects` separate objects on a grid over a 640x640 input."""
    rng = np.random.default_rng(seed)
    out = np.empty((4 + classes, anchors), np.float32)
    out[:2] = rng.uniform(0, 640, (2, anchors))
    out[2:4] = rng.uniform(4, 60, (2, anchors))
    out[4:] = rng.uniform(0.0, 0.02, (classes, anchors))  # background: sigmoid of a low logit
    columns = int(np.ceil(np.sqrt(objects)))
    cell = 640 / columns
    # Distinct anchors per object: a shared anchor would make a spurious extra detection.
    chosen = rng.choice(anchors, (objects, ANCHORS_PER_OBJECT), replace=False)
    for obj, idx in enumerate(chosen):
        row, column = divmod(obj, columns)
        out[0, idx] = (column + 0.5) * cell + rng.normal(0, 1, ANCHORS_PER_OBJECT)
        out[1, idx] = (row + 0.5) * cell + rng.normal(0, 1, ANCHORS_PER_OBJECT)
        out[2:4, idx] = cell * 0.6 * rng.uniform(0.97, 1.03, (2, ANCHORS_PER_OBJECT))
        out[4 + rng.integers(0, classes), idx] = rng.uniform(0.3, 0.95, ANCHORS_PER_OBJECT)
    return out[None]


def detection_stream(frames: int, objects: int, seed: int = 0) -> list:
    from jetsentry.detections import Detections

    rng = np.random.default_rng(seed)
    size = np.stack((rng.uniform(30, 120, objects), rng.uniform(40, 160, objects)), axis=1)
    low, high = np.zeros(2), np.array([WIDTH, HEIGHT], float) - size
    position = rng.uniform(low, high)
    velocity = rng.uniform(-6, 6, (objects, 2))
    stream = []
    for _ in range(frames):
        position += velocity
        velocity[(position < low) | (position > high)] *= -1
        position = np.clip(position, low, high)
        boxes = np.concatenate((position, position + size), axis=1) + rng.normal(0, 1.5, (objects, 4))
        low_score = rng.random(objects) < 0.1
        scores = np.where(low_score, rng.uniform(0.12, 0.24, objects), rng.uniform(0.3, 0.95, objects))
        order = np.argsort(-scores)
        stream.append(Detections(boxes=boxes[order].astype(np.float32), scores=scores[order].astype(np.float32),
                                 class_ids=np.zeros(objects, np.int32)))
    return stream


def timed_ms(step: Callable[[int], object], runs: int, warmup: int = 50) -> np.ndarray:
    for i in range(warmup):
        step(i)
    times = np.empty(runs)
    for i in range(runs):
        start = time.perf_counter()
        step(i)
        times[i] = time.perf_counter() - start
    return times * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "frame_cost_50det", model=False, clip=False)
    parser.add_argument("--objects", type=int, default=50)
    parser.add_argument("--frames", type=int, default=2000, help="timed frames per step")
    parser.add_argument("--core", type=int, default=0, help="the core everything is pinned to")
    args = parser.parse_args()

    import cv2

    from jetsentry.config.models import TrackerConfig
    from jetsentry.infer.letterbox import fit
    from jetsentry.infer.postprocess import PostprocessSettings, postprocess
    from jetsentry.pipeline import tracker_parameters
    from jetsentry.publish.message import LATENCY_STAGES, ModelInfo, build_detections_message
    from jetsentry.track import ByteTracker

    os.sched_setaffinity(0, {args.core})
    cv2.setNumThreads(1)
    head = synthetic_head(args.objects)
    boxes = [fit((HEIGHT, WIDTH), (640, 640))]
    settings = PostprocessSettings(confidence=0.25, iou=0.7, max_detections=300)
    stream = detection_stream(args.frames + 50, args.objects)
    tracker = ByteTracker(**tracker_parameters(TrackerConfig()), frame_rate=30.0)
    tracked = [tracker.update(dets) for dets in stream[:50]]  # a tracked frame for the message
    tracker.reset()
    labels = np.asarray([f"class{i}" for i in range(80)], dtype=object)
    model = ModelInfo(name="yolov8n-coco", version="8.4", sha256="0" * 64)
    latency = dict.fromkeys(LATENCY_STAGES, 12.345)

    def message(i: int) -> bytes:
        return build_detections_message(device_id="bench", camera_id="cam1", seq=i, capture_ts=1.7e9, model=model,
                                        backend="onnxruntime-cpu", width=WIDTH, height=HEIGHT,
                                        detections=tracked[-1], labels=labels, latency_ms=latency)

    if not args.no_wait:
        wait_for_quiet()
    with CpuMonitor() as monitor:
        post = stats_ms(timed_ms(lambda i: postprocess(head, boxes, settings), args.frames))
        track = stats_ms(timed_ms(lambda i: tracker.update(stream[i % len(stream)]), args.frames, warmup=0))
        built = stats_ms(timed_ms(message, args.frames))
    total = post["p50"] + track["p50"]
    met = total <= TARGET_MS
    print(f"bench_frame_cost, {args.objects} detections, one core: postprocess p50 {post['p50']:.3f} ms + tracking "
          f"p50 {track['p50']:.3f} ms = {total:.3f} ms (target <= {TARGET_MS} ms: {'met' if met else 'NOT met'}); "
          f"message p50 {built['p50']:.3f} ms; other processes {monitor.record['foreign_cores']:.2f} cores", flush=True)
    write_result(args.name, {"objects": args.objects, "core": args.core, "postprocess_ms": post, "tracking_ms": track,
                             "message_ms": built, "total_ms_p50": round(total, 3), "target_ms": TARGET_MS,
                             "target_met": met}, load=monitor.record)


if __name__ == "__main__":
    main()
