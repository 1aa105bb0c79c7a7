"""The real COCO YOLOv8n on real photographs: our Detector against Ultralytics' own predict."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from jetsentry.infer import Detector
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
from tests.infer.matching import detections_from_ultralytics, match_detections
from tests.infer.photo_clip import make_photo_clip, photo_frames
from tests.infer.photos import load_photos

pytestmark = [pytest.mark.needs_coco_model, pytest.mark.slow]


@pytest.fixture(scope="module")
def ultralytics_yolo(coco_model):
    ultralytics = pytest.importorskip("ultralytics", reason="Ultralytics is a test-only reference")
    return ultralytics.YOLO(str(coco_model), task="detect")


@pytest.fixture(scope="module")
def detector(coco_model):
    with Detector(OnnxRuntimeEngine(coco_model, threads=2), confidence=0.25, iou=0.7) as detector:
        yield detector


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    photos = load_photos()
    if len(photos) < 2:
        pytest.skip("needs test photos from ultralytics or scikit-image")
    # Photos as they are, mirrored, and placed in 1280x720 frames (alone and as mosaics).
    return photos + [np.ascontiguousarray(p[:, ::-1]) for p in photos] + photo_frames(1280, 720)


def _compare(detector, ultralytics_yolo, frames):
    ours = [detector.detect([frame])[0][0] for frame in frames]
    theirs = detections_from_ultralytics(ultralytics_yolo.predict(frames, conf=0.25, iou=0.7, verbose=False))
    return match_detections(ours, theirs, iou_min=0.95)


def test_matches_ultralytics_on_photos(detector, ultralytics_yolo, frames):
    stats = _compare(detector, ultralytics_yolo, frames)
    assert stats.theirs >= 40, stats.summary()  # enough boxes for 98 % to mean something
    assert stats.matched_fraction >= 0.98, stats.summary()
    assert stats.max_score_diff <= 0.01, stats.summary()


def test_batches_give_the_same_detections_as_single_frames(detector, frames):
    single = [detector.detect([frame])[0][0] for frame in frames[:5]]
    batched, _ = detector.detect(frames[:5])  # static batch-1 model: run in chunks
    for one, many in zip(single, batched):
        np.testing.assert_array_equal(one.class_ids, many.class_ids)
        np.testing.assert_allclose(one.boxes, many.boxes, atol=1e-3)
        np.testing.assert_allclose(one.scores, many.scores, atol=1e-5)


def test_photo_clip_decodes_to_the_photos_and_matches_ultralytics(tmp_path, detector, ultralytics_yolo):
    expected = photo_frames(1280, 720)
    clip = make_photo_clip(tmp_path / "photos.mp4", 1280, 720, frames_per_photo=2)
    capture = cv2.VideoCapture(str(clip))
    decoded = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        decoded.append(frame)
    capture.release()
    assert len(decoded) == 2 * len(expected)
    assert decoded[0].shape == (720, 1280, 3)
    for index, source in enumerate(expected):
        psnr = cv2.PSNR(source, decoded[2 * index])
        assert psnr > 35, f"frame {2 * index}: PSNR {psnr:.1f} dB, the clip is encoded too coarsely"
    stats = _compare(detector, ultralytics_yolo, decoded[::2])
    assert stats.theirs >= 10 and stats.matched_fraction >= 0.98, stats.summary()
    assert stats.max_score_diff <= 0.01, stats.summary()
