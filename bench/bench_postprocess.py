"""Post-processing (head decoding + class-aware NMS + scaling back) in ms per frame, on one core.

Input: a YOLOv8 COCO-shaped head output [1, 84, 8400] in which 50 objects each light
up 10 neighbouring anchors (as a real head does) and the other anchors carry
background scores, so about 500 candidates pass the 0.25 threshold and 50 survive NMS.

    python bench/bench_postprocess.py [--runs 2000] [--objects 50]
"""

from __future__ import annotations

import os

# One core: pin the process and stop the numeric libraries from starting thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from jetsentry.infer.letterbox import fit  # noqa: E402
from jetsentry.infer.postprocess import PostprocessSettings, postprocess  # noqa: E402

ANCHORS_PER_OBJECT = 10


def synthetic_head(objects: int, classes: int = 80, anchors: int = 8400, seed: int = 0) -> np.ndarray:
    """[1, 4+C, N]: ``objects`` separate objects on a grid over a 640x640 input."""
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--objects", type=int, default=50)
    args = parser.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    cv2.setNumThreads(1)

    output = synthetic_head(args.objects)
    boxes = [fit((1080, 1920), (640, 640))]
    settings = PostprocessSettings(confidence=0.25, iou=0.7, max_detections=300)
    candidates = int((output[0, 4:].max(axis=0) > settings.confidence).sum())
    detections = postprocess(output, boxes, settings)[0]

    for _ in range(50):  # warm caches and allocator
        postprocess(output, boxes, settings)
    times = np.empty(args.runs)
    for i in range(args.runs):
        start = time.perf_counter()
        postprocess(output, boxes, settings)
        times[i] = time.perf_counter() - start
    times *= 1e3
    print(
        f"bench_postprocess: [1, 84, 8400], {candidates} candidates -> {len(detections)} detections, "
        f"1 core ({platform.processor() or platform.machine()}), {args.runs} runs: "
        f"median {np.median(times):.3f} ms, p90 {np.percentile(times, 90):.3f} ms, min {times.min():.3f} ms per frame"
    )


if __name__ == "__main__":
    main()
