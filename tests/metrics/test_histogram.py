"""The frame path's histograms: bucket edges, cumulative export, per-camera counts."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.capture.frame import Frame
from jetsentry.detections import Detections
from jetsentry.metrics.histogram import (
    LATENCY_BUCKETS_S,
    FrameRecorder,
    Histogram,
    HistogramSnapshot,
    batch_size_buckets,
)
from jetsentry.pipeline import ProcessedFrame


def processed_frame(camera_id: str, received: float, **latency_ms: float) -> ProcessedFrame:
    frame = Frame(camera_id, 0, np.zeros((4, 4, 3), np.uint8), capture_ts=0.0, received_monotonic=received)
    latency = {"decode_to_batch": 1.0, "preprocess": 2.0, "inference": 30.0, "postprocess": 0.5, "tracking": 0.2,
               "total": 0.0, **latency_ms}
    return ProcessedFrame(frame=frame, detections=Detections.empty(), latency_ms=latency, payload=b"{}")


def test_a_value_on_a_bound_counts_in_that_bucket_and_cumulative_ends_with_inf():
    histogram = Histogram([0.1, 1.0])
    for value in (0.1, 0.5, 1.0, 7.0):
        histogram.observe(value)
    assert histogram.counts == [1, 2, 1]
    empty = FrameRecorder(4).snapshot().frame_latency
    assert empty.count == 0 and empty.cumulative()[-1] == ("+Inf", 0)
    cumulative = HistogramSnapshot((0.1, 1.0), tuple(histogram.counts), histogram.total).cumulative()
    assert cumulative == [("0.1", 1), ("1.0", 3), ("+Inf", 4)]


@pytest.mark.parametrize("max_batch, expected", [
    (1, (1.0,)), (4, (1.0, 2.0, 3.0, 4.0)), (12, (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 12.0)),
    (64, (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 16.0, 32.0, 64.0)),
])
def test_batch_size_buckets_end_at_max_batch(max_batch, expected):
    assert batch_size_buckets(max_batch) == expected


def test_one_batch_observes_batch_stages_once_and_frame_stages_per_frame():
    now = [100.0]
    recorder = FrameRecorder(4, clock=lambda: now[0])
    results = [processed_frame("a", 99.9), processed_frame("b", 99.95, tracking=3.0), processed_frame("a", 99.99)]
    recorder.batch_published(results, publish_started=99.998)
    recorder.batch_published([], publish_started=99.999)  # nothing published: nothing observed
    snap = recorder.snapshot()
    assert {stage: h.count for stage, h in snap.batch_stages.items()} == {
        "preprocess": 1, "inference": 1, "postprocess": 1, "publish": 1}
    assert snap.batch_stages["inference"].total == pytest.approx(0.030)
    assert snap.batch_stages["publish"].total == pytest.approx(0.002)
    assert snap.frame_stages["tracking"].count == 3
    assert snap.frame_stages["tracking"].total == pytest.approx((0.2 + 3.0 + 0.2) * 1e-3)
    assert snap.frame_latency.total == pytest.approx(0.1 + 0.05 + 0.01)
    assert snap.batch_size.count == 1 and snap.batch_size.counts[2] == 1  # le=3
    assert snap.processed == {"a": 2, "b": 1}
    # 3 ms tracking falls in the le=0.005 bucket, not below it
    index = LATENCY_BUCKETS_S.index(0.005)
    assert snap.frame_stages["tracking"].counts[index] == 1
