"""ByteTracker.update cost per frame at 50 detections, on one core.

50 objects move with constant velocity (bouncing off the frame edges, so all stay in
view and cross each other); every frame has one jittered detection per object, a tenth
of them with low scores (stage two), in score order as after NMS.  Detection streams are
made before timing; only update() is timed.

    python bench/bench_tracking.py [--frames 3000] [--objects 50]
"""

from __future__ import annotations

import os

# One core: BLAS and OpenMP pools must be pinned before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from jetsentry.config.models import TrackerConfig  # noqa: E402
from jetsentry.detections import Detections  # noqa: E402
from jetsentry.track import ByteTracker  # noqa: E402

WIDTH, HEIGHT = 1920, 1080


def detection_stream(num_frames: int, num_objects: int, seed: int = 0) -> list[Detections]:
    rng = np.random.default_rng(seed)
    size = np.stack((rng.uniform(30, 120, num_objects), rng.uniform(40, 160, num_objects)), axis=1)
    low = np.array([0, 0], float)
    high = np.array([WIDTH, HEIGHT], float) - size
    position = rng.uniform(low, high)
    velocity = rng.uniform(-6, 6, (num_objects, 2))
    frames = []
    for _ in range(num_frames):
        position += velocity
        bounced = (position < low) | (position > high)
        velocity[bounced] *= -1
        position = np.clip(position, low, high)
        boxes = np.concatenate((position, position + size), axis=1)
        boxes += rng.normal(0, 1.5, boxes.shape)
        low_score = rng.random(num_objects) < 0.1  # for stage two
        scores = np.where(low_score, rng.uniform(0.12, 0.24, num_objects), rng.uniform(0.3, 0.95, num_objects))
        order = np.argsort(-scores)
        frames.append(
            Detections(
                boxes=boxes[order].astype(np.float32),
                scores=scores[order].astype(np.float32),
                class_ids=np.zeros(num_objects, np.int32),
            )
        )
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--objects", type=int, default=50)
    args = parser.parse_args()

    frames = detection_stream(args.frames, args.objects)
    tracker = ByteTracker(TrackerConfig(), frame_rate=30.0)
    for dets in frames[:50]:  # warm-up: first-call overheads and the initial track births
        tracker.update(dets)
    tracker.reset()

    elapsed_ms = np.empty(len(frames))
    tracked = 0
    for i, dets in enumerate(frames):
        start = time.perf_counter_ns()
        out = tracker.update(dets)
        elapsed_ms[i] = (time.perf_counter_ns() - start) / 1e6
        tracked += len(out)

    print(f"machine: {platform.machine()}, python {platform.python_version()}, numpy {np.__version__}")
    print(f"frames: {len(frames)}, detections/frame: {args.objects}, tracked rows/frame: {tracked / len(frames):.1f}")
    print(
        f"ByteTracker.update ms/frame: median {np.median(elapsed_ms):.3f}, "
        f"p90 {np.percentile(elapsed_ms, 90):.3f}, p99 {np.percentile(elapsed_ms, 99):.3f}, "
        f"mean {elapsed_ms.mean():.3f}"
    )


if __name__ == "__main__":
    main()
