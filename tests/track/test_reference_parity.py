"""Our ByteTrack against Ultralytics' BYTETracker on the same detection streams."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.config.models import TrackerConfig
from jetsentry.detections import Detections
from jetsentry.pipeline import tracker_input
from jetsentry.track.matching import iou_matrix
from tests.track.reference import mot_metrics, run_jetsentry_bytetrack, run_reference_bytetrack
from tests.track.synthetic import make_stream, occlusion

pytest.importorskip(
    "ultralytics.trackers.byte_tracker", reason="Ultralytics (test-only reference tracker) is not installed"
)

STRICT = TrackerConfig(
    high_threshold=0.5, low_threshold=0.1, new_track_threshold=0.6, match_threshold=0.7, track_buffer=15
)
LOOSE = TrackerConfig(
    high_threshold=0.3, low_threshold=0.05, new_track_threshold=0.3, match_threshold=0.9, track_buffer=60
)


def _pipeline_input(detections: list[Detections], config: TrackerConfig) -> list[Detections]:
    """What the frame path feeds the tracker: NMS at its low_threshold keeps the scores above it."""
    fed = [tracker_input(d, config) for d in detections]
    low_band = [((d.scores > config.low_threshold) & (d.scores < config.high_threshold)).sum() for d in fed]
    assert sum(low_band) > len(fed)  # stage two has input, as it has in the pipeline
    return fed


def _same_associations(expected: list[Detections], actual: list[Detections]) -> None:
    """Same detections tracked in every frame, and one fixed id renaming between the two."""
    renaming: dict[int, int] = {}
    for frame, (a, b) in enumerate(zip(expected, actual, strict=True)):
        np.testing.assert_array_equal(a.boxes, b.boxes, err_msg=f"tracked detections differ in frame {frame}")
        for x, y in zip(a.track_ids.tolist(), b.track_ids.tolist()):
            assert renaming.setdefault(x, y) == y, f"frame {frame}: reference id {x} is ours {renaming[x]} and {y}"
    assert len(set(renaming.values())) == len(renaming)


@pytest.mark.parametrize(
    "seed, config, frame_rate, objects, false_positives",
    [(0, TrackerConfig(), 30.0, 60, 1.0), (1, STRICT, 15.0, 90, 3.0), (2, LOOSE, 10.0, 60, 2.0)],
)
def test_mota_and_idf1_within_a_hundredth_of_the_reference(seed, config, frame_rate, objects, false_positives):
    stream = make_stream(
        seed, num_frames=300, num_objects=objects, false_positives_per_frame=false_positives, frame_rate=frame_rate
    )
    fed = _pipeline_input(stream.detections, config)
    ours = mot_metrics(stream.ground_truth, run_jetsentry_bytetrack(fed, frame_rate, config))
    reference = mot_metrics(stream.ground_truth, run_reference_bytetrack(fed, frame_rate, config))
    assert abs(ours["mota"] - reference["mota"]) <= 0.01, (ours, reference)
    assert abs(ours["idf1"] - reference["idf1"]) <= 0.01, (ours, reference)
    assert ours["mota"] > 0.5 and ours["idf1"] > 0.6, ours  # the comparison is between working trackers


@pytest.mark.parametrize(
    "seed, config, frame_rate, miss_rate",
    [(3, TrackerConfig(), 30.0, 0.05), (4, STRICT, 30.0, 0.15), (5, LOOSE, 15.0, 0.3), (6, TrackerConfig(), 10.0, 0.3)],
)
def test_associations_equal_the_reference_without_its_late_removal(seed, config, frame_rate, miss_rate):
    stream = make_stream(seed, num_frames=200, num_objects=90, miss_rate=miss_rate, false_positives_per_frame=3.0)
    fed = _pipeline_input(stream.detections, config)
    _same_associations(
        run_reference_bytetrack(fed, frame_rate, config, prompt_removal=True),
        run_jetsentry_bytetrack(fed, frame_rate, config),
    )


def test_the_one_documented_difference_is_the_references_late_removal():
    """Missing for buffer + 1 frames: the reference still finds the track, we start anew."""
    config = TrackerConfig(track_buffer=5)

    def seen(f: int) -> Detections:
        box = np.array([[100 + 3 * f, 100, 160 + 3 * f, 220]], np.float32)
        return Detections(box, np.array([0.9], np.float32), np.zeros(1, np.int32))

    frames = [Detections.empty() if 10 <= f < 16 else seen(f) for f in range(20)]
    reference = run_reference_bytetrack(frames, 30.0, config)
    ours = run_jetsentry_bytetrack(frames, 30.0, config)
    assert reference[16].track_ids.tolist() == reference[9].track_ids.tolist()
    assert len(ours[16]) == 0 and ours[17].track_ids.tolist() == [2]
    _same_associations(run_reference_bytetrack(frames, 30.0, config, prompt_removal=True), ours)


def test_synthetic_streams_are_hard_enough_to_compare_on():
    stream = make_stream(0, num_frames=300, num_objects=60)
    crossing_pairs, occluded = set(), set()
    for gt in stream.ground_truth:
        iou = iou_matrix(gt.boxes, gt.boxes)
        np.fill_diagonal(iou, 0)
        rows, cols = np.nonzero(iou > 0.3)
        crossing_pairs |= {frozenset(p) for p in zip(gt.track_ids[rows].tolist(), gt.track_ids[cols].tolist())}
        occluded |= set(gt.track_ids[occlusion(gt.boxes.astype(float)) > 0.3].tolist())
    objects = set(np.concatenate([gt.track_ids for gt in stream.ground_truth]).tolist())
    scores = np.concatenate([d.scores for d in stream.detections])
    in_view = np.mean([len(gt) for gt in stream.ground_truth])
    detected = sum(len(d) for d in stream.detections) / sum(len(gt) for gt in stream.ground_truth)
    assert in_view >= 12 and len(objects) >= 40
    assert len(crossing_pairs) >= 8 and len(occluded) >= len(objects) // 4
    assert 0.03 <= np.mean((scores > 0.1) & (scores < 0.25)) <= 0.2  # stage two has work
    assert 0.8 <= detected <= 1.2  # misses and false positives, but mostly right


def test_synthetic_streams_are_deterministic():
    a, b = make_stream(9, num_frames=50), make_stream(9, num_frames=50)
    for x, y in zip(a.detections + a.ground_truth, b.detections + b.ground_truth):
        np.testing.assert_array_equal(x.boxes, y.boxes)
        np.testing.assert_array_equal(x.scores, y.scores)


def test_mot_metrics_perfect_and_broken_tracks():
    stream = make_stream(4, num_frames=60)
    perfect = mot_metrics(stream.ground_truth, stream.ground_truth)
    assert perfect["mota"] == 1.0 and perfect["idf1"] == 1.0
    swapped = []
    for f, gt in enumerate(stream.ground_truth):
        ids = gt.track_ids + (1000 if f >= 30 else 0)  # every identity switches halfway
        swapped.append(Detections(gt.boxes, gt.scores, gt.class_ids, ids))
    broken = mot_metrics(stream.ground_truth, swapped)
    assert broken["num_switches"] > 0 and broken["idf1"] < 0.8 and broken["mota"] < 1.0
    with pytest.raises(ValueError, match="frames"):
        mot_metrics(stream.ground_truth, stream.ground_truth[:-1])
