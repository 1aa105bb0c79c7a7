"""Issue 3 item 4: on the same pipeline detections, our ByteTrack and Ultralytics' reach the same MOTA and IDF1."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.config.models import TrackerConfig
from tests.evaluate.conftest import DAEMON_CONFIDENCE
from tests.evaluate.reference_check import compare_trackers

TOLERANCE = 0.01


@pytest.mark.slow
def test_our_bytetrack_matches_the_reference_on_a_heldout_scene(heldout_run):
    pytest.importorskip("ultralytics", reason="the reference tracker is Ultralytics' BYTETracker (test-only)")
    result = compare_trackers([heldout_run], confidence=DAEMON_CONFIDENCE)
    ours, reference = result["jetsentry"]["overall"], result["reference"]["overall"]
    assert ours["mota"] > 0.8 and reference["mota"] > 0.8  # both really tracked something
    assert abs(ours["mota"] - reference["mota"]) <= TOLERANCE, (ours, reference)
    assert abs(ours["idf1"] - reference["idf1"]) <= TOLERANCE, (ours, reference)


def test_reference_run_scores_what_the_evaluation_scored(heldout_run):
    """compare_trackers' "jetsentry" side is the evaluation's own tracker output, fed what the daemon
    feeds its tracker: everything above low_threshold, below the daemon's confidence too."""
    from jetsentry.pipeline import tracker_input
    from jetsentry.evaluate.tracking_metrics import TrackingEvaluator
    from tests.track.reference import run_jetsentry_bytetrack

    fed = [tracker_input(d, TrackerConfig()) for d in heldout_run.detections]
    assert sum(((d.scores > 0.1) & (d.scores <= DAEMON_CONFIDENCE)).sum() for d in fed) > 0  # stage two has input
    again = run_jetsentry_bytetrack(fed, heldout_run.frame_rate)
    published = [a.select(a.scores > DAEMON_CONFIDENCE) for a in again]
    assert all(np.array_equal(a.track_ids, b.track_ids) for a, b in zip(published, heldout_run.tracked))
    scores = TrackingEvaluator().add_sequence("s", heldout_run.scene.gt, heldout_run.tracked)
    assert scores.mota > 0.8
