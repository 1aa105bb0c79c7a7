"""FrameProcessor's tracking rules on a real tiny ONNX model whose score is the frame's brightness.

The model (tests/infer/onnx_models.py) has one 'person' box at [24, 24, 40, 40] of a 64x64
frame, scoring the frame's mean brightness (0..1), so a frame's grey level sets the score.
Frames carry capture timestamps as capture would, at the rate a test chooses.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pytest

from jetsentry.capture.frame import Frame
from jetsentry.config.models import TrackerConfig
from jetsentry.infer import Detector
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
from jetsentry.pipeline import FrameProcessor, tracker_parameters
from tests.infer.onnx_models import head, ultralytics_metadata, write_detection_model


@pytest.fixture(scope="module")
def brightness_model(tmp_path_factory) -> str:
    base = head([(32, 32, 16, 16)], [[0.0, 0.0, 0.0]], anchors=4)
    brightness = np.zeros_like(base)
    brightness[4, 0] = 1.0
    path = tmp_path_factory.mktemp("model") / "brightness.onnx"
    return str(write_detection_model(path, base, brightness=brightness, batch=None,
                                     metadata=ultralytics_metadata(["person", "car", "dog"])))


def _processor(model: str, *, confidence: float = 0.25, tracker: TrackerConfig | None = TrackerConfig(),
               frame_rates: dict[str, float] | None = None) -> FrameProcessor:
    detector = Detector(OnnxRuntimeEngine(model, threads=1), confidence=confidence)
    return FrameProcessor(detector, device_id="test", tracker=tracker, frame_rates=frame_rates)


def _level(score: float) -> int:
    return int(round(score * 255))


def _frames(scores: Sequence[float], *, fps: float = 30.0, start: float = 1.7e9, camera: str = "cam",
            first_seq: int = 0) -> list[Frame]:
    return [Frame(camera, first_seq + i, np.full((64, 64, 3), _level(s), np.uint8), start + i / fps, 0.0)
            for i, s in enumerate(scores)]


def _published(processor: FrameProcessor, frames: Sequence[Frame], batch: int = 2) -> list[list[tuple[int, float]]]:
    """Per frame, the published (track_id, score) pairs."""
    out = []
    for i in range(0, len(frames), batch):
        for result in processor.process(frames[i:i + batch]):
            d = result.detections
            out.append([(int(t), round(float(s), 2)) for t, s in zip(d.track_ids, d.scores)])
    return out


def test_detections_between_low_and_high_threshold_carry_a_track(brightness_model):
    """Defaults (confidence = high_threshold = 0.25): 40 frames at 0.2, longer than the 30-frame
    buffer, must reach stage two and keep the track; they are not published (below 0.25)."""
    scores = [0.9] * 5 + [0.2] * 40 + [0.9] * 5
    published = _published(_processor(brightness_model), _frames(scores))
    assert published[:5] == [[(1, 0.9)]] * 5
    assert published[5:45] == [[]] * 40
    assert published[45:] == [[(1, 0.9)]] * 5  # the same track, not a new one


def test_without_tracking_nms_stays_at_model_confidence(brightness_model):
    for tracker in (None, TrackerConfig(enabled=False)):
        published = _published(_processor(brightness_model, tracker=tracker), _frames([0.9, 0.2, 0.26, 0.24]))
        assert published == [[(-1, 0.9)], [], [(-1, 0.26)], []]  # score > confidence, no track ids


def test_confidence_above_high_threshold_hides_weak_frames_without_breaking_the_track(brightness_model):
    scores = [0.9] * 3 + [0.3] * 40 + [0.45] * 2 + [0.9] * 3
    published = _published(_processor(brightness_model, confidence=0.5), _frames(scores))
    assert published[:3] == [[(1, 0.9)]] * 3
    assert published[3:45] == [[]] * 42  # tracked (stage one, >= high_threshold) but not published
    assert published[45:] == [[(1, 0.9)]] * 3


def test_with_confidence_above_high_threshold_only_publishable_detections_start_tracks(brightness_model):
    """At confidence 0.5 a 0.3 detection (above new_track_threshold 0.25) starts no track: the track
    starts with the first 0.9 frame, unconfirmed there, as any new track."""
    scores = [0.0] + [0.3] * 5 + [0.9] * 3
    published = _published(_processor(brightness_model, confidence=0.5), _frames(scores))
    assert published == [[]] * 7 + [[(1, 0.9)]] * 2


def test_tracker_parameters_raise_the_tracker_thresholds_to_the_confidence():
    config = TrackerConfig(high_threshold=0.3, new_track_threshold=0.35, low_threshold=0.1)
    assert tracker_parameters(config) == tracker_parameters(config, 0.2)
    assert tracker_parameters(config) == dict(high_threshold=0.3, low_threshold=0.1, new_track_threshold=0.35,
                                              match_threshold=0.8, track_buffer=30)
    raised = tracker_parameters(config, 0.6)
    assert (raised["high_threshold"], raised["new_track_threshold"], raised["low_threshold"]) == (0.6, 0.6, 0.1)


def test_confidence_below_low_threshold_publishes_nothing_the_tracker_cannot_track(brightness_model, caplog):
    with caplog.at_level(logging.WARNING, logger="jetsentry.pipeline"):
        tracking = _processor(brightness_model, confidence=0.05)
    assert "model.confidence 0.05 is below tracker.low_threshold 0.1" in caplog.text
    scores = [0.9] * 3 + [0.15] * 3 + [0.08] * 3
    assert _published(tracking, _frames(scores)) == [[(1, 0.9)]] * 3 + [[(1, 0.15)]] * 3 + [[]] * 3
    untracked = _processor(brightness_model, confidence=0.05, tracker=None)
    assert [len(p) for p in _published(untracked, _frames(scores))] == [1] * 9


def test_the_tracker_runs_at_the_processed_rate_measured_from_timestamps(brightness_model):
    """An uncapped camera processed at 10 frames/s: 15 frames (1.5 s) without the object exceed the
    1 s buffer, so it comes back as a new track (at an assumed 30 frames/s it would resume)."""
    processor = _processor(brightness_model)
    scores = [0.9] * 20 + [0.0] * 15 + [0.9] * 5
    published = _published(processor, _frames(scores, fps=10.0))
    assert published[:20] == [[(1, 0.9)]] * 20
    assert published[35] == [] and published[36:] == [[(2, 0.9)]] * 4
    assert processor.frame_rate("cam") == 10.0


def test_the_given_rate_is_only_assumed_until_measured(brightness_model):
    processor = _processor(brightness_model, frame_rates={"cam": 25.0})
    _published(processor, _frames([0.9] * 3, fps=5.0))
    assert processor.frame_rate("cam") == 25.0  # two intervals: not measured yet
    _published(processor, _frames([0.9] * 10, fps=5.0, start=1.7e9 + 0.6, first_seq=3))
    assert processor.frame_rate("cam") == 5.0
    assert processor.frame_rate("other") is None


def test_a_camera_back_after_an_outage_does_not_resume_stale_tracks(brightness_model):
    processor = _processor(brightness_model)
    before = _published(processor, _frames([0.9] * 20, fps=10.0))
    after = _published(processor, _frames([0.9] * 5, fps=10.0, start=1.7e9 + 1.9 + 30.0, first_seq=20))
    assert before == [[(1, 0.9)]] * 20
    assert after == [[(2, 0.9)]] * 5  # new tracks, and no id names two objects


def test_forget_camera_drops_one_cameras_tracks(brightness_model):
    processor = _processor(brightness_model)
    frames_a = _frames([0.9] * 3, fps=10.0, camera="a")
    frames_b = _frames([0.9] * 3, fps=5.0, camera="b")
    first = _published(processor, [f for pair in zip(frames_a, frames_b) for f in pair])
    assert first == [[(1, 0.9)]] * 6  # each camera has its own tracker and ids
    processor.forget_camera("a")
    processor.forget_camera("never-seen")
    later = [Frame(c, 3, np.full((64, 64, 3), 230, np.uint8), 1.7e9 + 0.6, 0.0) for c in ("a", "b")]
    assert _published(processor, later) == [[(2, 0.9)], [(1, 0.9)]]


def test_pictures_go_back_to_their_decoder_once_prepared(brightness_model):
    from jetsentry.capture.frame import DevicePicture

    released = []

    class _Recorded(Frame):
        __slots__ = ()

        def release(self):
            released.append(self.seq)

    processor = _processor(brightness_model, tracker=None)
    frames = [_Recorded("cam", i, np.full((64, 64, 3), 128, np.uint8), 1.7e9 + i, 0.0) for i in range(2)]
    processor.prepare(frames)
    assert released == [0, 1]
    # A picture that cannot be read (a device picture on a machine without that GPU)
    # is released all the same, and the batch fails.
    bad = Frame("cam", 9, DevicePicture(luma_ptr=0x1000, chroma_ptr=0x1000 + 64 * 64, pitch=64, width=64, height=64,
                                        release=lambda: released.append("device")), 1.7e9, 0.0)
    with pytest.raises(Exception):
        processor.prepare([bad])
    assert released[-1] == "device"


def test_a_batch_of_several_cameras_publishes_what_frame_by_frame_processing_does(brightness_model):
    # Cameras tracked in one pass per batch, a camera twice in a batch in two passes: the same
    # tracks and messages as one frame at a time.
    rng = np.random.default_rng(11)
    frames = []
    for camera in ("a", "b", "c"):
        scores = np.clip(rng.choice([0.9, 0.5, 0.2, 0.05], 24, p=[0.5, 0.2, 0.2, 0.1]), 0, 1).tolist()
        frames.append(_frames(scores, fps=10.0, camera=camera))
    # Interleaved, with camera a running two frames ahead so batches hold it twice.
    order = frames[0][:2] + [f for triple in zip(frames[0][2:], frames[1], frames[2]) for f in triple]
    order += frames[1][-2:] + frames[2][-2:]

    def messages(batch: int) -> dict[str, list[tuple]]:
        processor = _processor(brightness_model)
        out: dict[str, list[tuple]] = {}
        for i in range(0, len(order), batch):
            for result in processor.process(order[i:i + batch]):
                d = result.detections
                out.setdefault(result.frame.camera_id, []).append(
                    (result.frame.seq, d.track_ids.tolist(), d.scores.round(3).tolist()))
        return out

    one_by_one = messages(1)
    assert messages(5) == one_by_one
    assert sum(len(ids) for per_camera in one_by_one.values() for _, ids, _ in per_camera) > 30
