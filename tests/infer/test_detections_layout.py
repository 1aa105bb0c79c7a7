"""Models whose output is final detections [B, K, 6] (NMS-free heads, exports with NMS inside)."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.config.models import ModelConfig
from jetsentry.infer import Detector, ModelError, create_engine
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine

# x1, y1, x2, y2 in the 64x64 input, score, class; classes person, car, dog.
ROWS = np.array(
    [
        [16, 16, 32, 24, 0.6, 2],
        [8, 20, 24, 40, 0.9, 0],
        [0, 0, 10, 10, 0.2, 1],  # below the confidence
        [30, 30, 40, 40, 0.8, 7],  # not one of the model's classes
        [0, 0, 0, 0, 0.0, 0],  # an unused row
    ],
    np.float32,
)


def _detector(path, **options) -> Detector:
    return Detector(OnnxRuntimeEngine(path, threads=1), **options)


def test_rows_above_the_confidence_come_back_in_source_pixels_best_first(make_model):
    detector = _detector(make_model(ROWS), confidence=0.25)
    assert detector.info.output_layout == "detections"
    # 128x256 (h x w) into 64x64: gain 0.25, 16 px of padding above and below.
    (found,), _ = detector.detect([np.zeros((128, 256, 3), np.uint8)])
    assert found.class_ids.tolist() == [0, 2]
    np.testing.assert_allclose(found.scores, [0.9, 0.6], rtol=1e-6)
    np.testing.assert_allclose(found.boxes, [[32, 16, 96, 96], [64, 0, 128, 32]])


def test_class_filter_and_detection_cap(make_model):
    path = make_model(ROWS)
    (dogs,), _ = _detector(path, classes=["dog"]).detect([np.zeros((64, 64, 3), np.uint8)])
    assert dogs.class_ids.tolist() == [2]
    (best,), _ = _detector(path, max_detections=1, confidence=0.1).detect([np.zeros((64, 64, 3), np.uint8)])
    assert best.class_ids.tolist() == [0] and best.scores.tolist() == pytest.approx([0.9])


def test_a_batch_keeps_each_images_rows_apart(make_model):
    brightness = np.zeros_like(ROWS)
    brightness[:, 4] = 0.5  # scores rise by half the image's mean brightness (0..1)
    path = make_model(ROWS - np.array([0, 0, 0, 0, 0.5, 0], np.float32), brightness=brightness, batch=None)
    dark, bright = np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 255, np.uint8)
    (none, some), _ = _detector(path, confidence=0.45).detect([dark, bright])
    assert len(none) == 0
    assert some.class_ids.tolist() == [0, 2]  # 0.9 and 0.6 again; the out-of-range class still dropped


def test_a_dynamic_output_gets_its_layout_from_the_test_run(make_model):
    engine = create_engine(ModelConfig(path=make_model(ROWS, dynamic_head=True), threads=1))
    try:
        assert engine.info.output_layout == "detections"
    finally:
        engine.close()

