"""Latency and batch-size histograms, observed once per published batch by the inference thread.

prometheus_client's Histogram.observe walks its buckets in Python under a lock, a few
microseconds per call; the frame path would pay that several times per frame.  Here one
observation is a C bisect into a list plus an addition, and one lock is taken per batch.
The scrape (another thread) copies the counts under the same lock.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass

# Seconds: tracking a frame takes ~0.1 ms, inference of a batch tens of ms on a CPU, a frame's
# wait for the batch up to batching.max_wait_ms; past 10 s something is wedged.
LATENCY_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                     1.0, 2.5, 5.0, 10.0)

# Stages timed once per batch (the engine runs the batch as one) and once per frame.
BATCH_STAGES = ("preprocess", "inference", "postprocess", "publish")
FRAME_STAGES = ("batch_wait", "tracking")


def batch_size_buckets(max_batch: int) -> tuple[float, ...]:
    """Every size up to 8, then powers of two, and max_batch itself."""
    sizes = {n for n in range(1, min(max_batch, 8) + 1)}
    sizes.update(n for n in (16, 32, 64) if n < max_batch)
    sizes.add(max_batch)
    return tuple(float(n) for n in sorted(sizes))


class Histogram:
    """Counts per bucket (the last one is +Inf) and the sum; not locked itself."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = list(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        # bisect_left: a value equal to a bound belongs to that bound's bucket (le="bound").
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value


@dataclass(frozen=True)
class HistogramSnapshot:
    bounds: tuple[float, ...]
    counts: tuple[int, ...]  # per bucket, not cumulative; the last is above every bound
    total: float

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus buckets: (le, cumulative count), ending with +Inf."""
        out, running = [], 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out


@dataclass(frozen=True)
class RecorderSnapshot:
    batch_stages: dict[str, HistogramSnapshot]
    frame_stages: dict[str, HistogramSnapshot]
    frame_latency: HistogramSnapshot
    batch_size: HistogramSnapshot
    processed: dict[str, int]  # frames published per camera


class FrameRecorder:
    """What the frame path tells the metrics: one call per published batch."""

    def __init__(self, max_batch: int, clock=time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._batch = {stage: Histogram(LATENCY_BUCKETS_S) for stage in BATCH_STAGES}
        self._frame = {stage: Histogram(LATENCY_BUCKETS_S) for stage in FRAME_STAGES}
        self._latency = Histogram(LATENCY_BUCKETS_S)
        self._sizes = Histogram(batch_size_buckets(max_batch))
        self._processed: dict[str, int] = {}

    def batch_published(self, results: Sequence, publish_started: float) -> None:
        """`results` (pipeline.ProcessedFrame) were handed to the publisher, which began at
        `publish_started` (monotonic); their end-to-end latency ends now."""
        if not results:
            return
        now = self._clock()
        first = results[0].latency_ms  # the batch stages are the same for every frame of a batch
        with self._lock:
            batch = self._batch
            batch["preprocess"].observe(first["preprocess"] * 1e-3)
            batch["inference"].observe(first["inference"] * 1e-3)
            batch["postprocess"].observe(first["postprocess"] * 1e-3)
            batch["publish"].observe(now - publish_started)
            self._sizes.observe(len(results))
            wait, tracking, latency = self._frame["batch_wait"], self._frame["tracking"], self._latency
            processed = self._processed
            for result in results:
                times, frame = result.latency_ms, result.frame
                wait.observe(times["decode_to_batch"] * 1e-3)
                tracking.observe(times["tracking"] * 1e-3)
                latency.observe(now - frame.received_monotonic)
                processed[frame.camera_id] = processed.get(frame.camera_id, 0) + 1

    def processed(self) -> dict[str, int]:
        with self._lock:
            return dict(self._processed)

    def snapshot(self) -> RecorderSnapshot:
        with self._lock:
            return RecorderSnapshot(
                batch_stages={stage: _snap(h) for stage, h in self._batch.items()},
                frame_stages={stage: _snap(h) for stage, h in self._frame.items()},
                frame_latency=_snap(self._latency),
                batch_size=_snap(self._sizes),
                processed=dict(self._processed),
            )


def _snap(histogram: Histogram) -> HistogramSnapshot:
    return HistogramSnapshot(tuple(histogram.bounds), tuple(histogram.counts), histogram.total)
