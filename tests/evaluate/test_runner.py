"""The evaluation's pipeline pass against the daemon's own: same detections, same tracks."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.analyze import analyze_frames, build_processor
from jetsentry.capture.reader import VideoFileReader
from jetsentry.config.models import ModelConfig, TrackerConfig
from tests.evaluate.conftest import DAEMON_CONFIDENCE


@pytest.mark.slow
def test_tracks_equal_the_daemons_at_its_confidence(heldout_run, default_model):
    """The 0.001 stream cut at the tracker's low threshold, tracked and cut at the daemon's confidence,
    gives exactly what the daemon publishes (NMS at the low threshold, tracking, the same cut)."""
    scene = heldout_run.scene
    reader = VideoFileReader(scene.video, camera_id="daemon")
    processor = build_processor(ModelConfig(path=default_model, confidence=DAEMON_CONFIDENCE), TrackerConfig(),
                                camera_id="daemon", frame_rate=reader.fps)
    daemon = [r.detections for r in analyze_frames(reader, processor, batch=1)]
    assert len(daemon) == heldout_run.frames == scene.frames
    assert sum(len(d) for d in daemon) > 5 * scene.frames
    for frame, (ours, theirs) in enumerate(zip(heldout_run.tracked, daemon), start=1):
        for field in ("boxes", "scores", "class_ids", "track_ids"):
            assert np.array_equal(getattr(ours, field), getattr(theirs, field)), (frame, field)


def test_low_confidence_detections_reach_the_metrics(heldout_run):
    """mAP sees detections below the daemon's confidence; the scored tracks never score at or below it."""
    scores = np.concatenate([d.scores for d in heldout_run.detections])
    assert scores.min() < 0.1 and (scores <= DAEMON_CONFIDENCE).sum() > 0
    tracked_ids = {d.track_ids.min() for d in heldout_run.tracked if len(d)}
    assert min(tracked_ids) >= 1
    tracked_scores = np.concatenate([t.scores for t in heldout_run.tracked])
    assert tracked_scores.min() > DAEMON_CONFIDENCE
    assert all(len(t) <= (d.scores > DAEMON_CONFIDENCE).sum() for t, d in zip(heldout_run.tracked,
                                                                               heldout_run.detections))
    assert heldout_run.frame_rate == 15.0  # measured from the frames' timestamps: the scene's rate
    assert len(heldout_run.timestamps) == heldout_run.frames


def test_a_camera_processed_at_a_third_of_its_frames_is_tracked_at_the_measured_rate(heldout_run):
    from tests.evaluate.frame_step_check import compare_rates, every_kth_gt

    gt = heldout_run.scene.gt
    third = every_kth_gt(gt, 3)
    assert set(third.frame.tolist()) == set(range(1, heldout_run.frames // 3 + 1))
    assert len(third) == np.isin(gt.frame, np.arange(1, heldout_run.frames + 1, 3)).sum()
    result = compare_rates([heldout_run], steps=(3,))[3]
    assert result["measured_fps"] == [5.0]  # 15 fps scene, every third frame
    assert result["measured"]["mota"] > 0.8 and result["assumed_30"]["mota"] > 0.8
