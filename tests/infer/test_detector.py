"""The whole infer stage on tiny real ONNX models run by ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.config.models import ModelConfig
from jetsentry.infer import Detector, StageTimes
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
from tests.infer.onnx_models import head


def _frame(height: int, width: int, level: int = 0) -> np.ndarray:
    return np.full((height, width, 3), level, np.uint8)


def _detector(path, **options) -> Detector:
    return Detector(OnnxRuntimeEngine(path, threads=1), **options)


def test_static_model_boxes_in_source_pixels(make_model, simple_head):
    detector = _detector(make_model(simple_head))
    # 128x256 (h x w) into 64x64: gain 0.25, 16 px of padding above and below.
    (detections,), times = detector.detect([_frame(128, 256)])
    assert detections.class_ids.tolist() == [0, 2]
    np.testing.assert_allclose(detections.scores, [0.9, 0.6], rtol=1e-6)
    np.testing.assert_allclose(detections.boxes, [[48, 0, 80, 16], [128, 80, 192, 112]])
    assert (detections.track_ids == -1).all()
    assert isinstance(times, StageTimes) and min(times.preprocess_ms, times.inference_ms, times.postprocess_ms) >= 0


def _probe_model(make_model, **options):
    """A dynamic-size model whose anchor 0 is the box (W/2, H/2, W/2, H/2) of the input it was fed."""
    base = head([(0, 0, 0, 0)], [[0.9, 0.0, 0.0]], anchors=4)
    return make_model(base, hw=None, shape_probe_anchor=0, **options)


def test_dynamic_model_gets_the_minimum_rectangle(make_model):
    detector = _detector(_probe_model(make_model), input_size=640)
    (detections,), _ = detector.detect([_frame(720, 1280)])
    # Input 384x640: probe box (160, 96)-(480, 288); gain 0.5, 12 px padding on top.
    np.testing.assert_allclose(detections.boxes, [[320, 168, 960, 552]])


def test_dynamic_model_batch_of_mixed_shapes_uses_the_largest_rectangle(make_model):
    detector = _detector(_probe_model(make_model, batch=None), input_size=640)
    detections, _ = detector.detect([_frame(720, 1280), _frame(1280, 720), _frame(720, 1280)])
    # Both rectangles (384x640, 640x384) fit in 640x640: probe box (160, 160)-(480, 480).
    np.testing.assert_allclose(detections[0].boxes, [[320, 40, 960, 680]])
    np.testing.assert_allclose(detections[1].boxes, [[40, 320, 680, 960]])
    np.testing.assert_allclose(detections[2].boxes, [[320, 40, 960, 680]])


def test_input_size_must_be_a_stride_multiple_for_dynamic_models(make_model):
    with pytest.raises(ValueError, match="model.input_size 600 must be a multiple of the model stride 32"):
        _detector(_probe_model(make_model), input_size=600)


def _brightness_detector(make_model, batch, **options) -> Detector:
    """One box whose 'person' score is the image's mean brightness (0..1)."""
    base = head([(32, 32, 16, 16)], [[0.0, 0.0, 0.0]], anchors=4)
    brightness = np.zeros_like(base)
    brightness[4, 0] = 1.0
    return _detector(make_model(base, brightness=brightness, batch=batch), **options)


@pytest.mark.parametrize("batch", [None, 1, 2])
def test_each_image_keeps_its_own_results(make_model, batch):
    detector = _brightness_detector(make_model, batch, confidence=0.3)
    levels = [255, 51, 204, 153, 102]  # 102/255 = 0.4 > 0.3; 51/255 = 0.2 is dropped
    detections, _ = detector.detect([_frame(64, 64, level) for level in levels])
    assert [len(d) for d in detections] == [1, 0, 1, 1, 1]
    scores = [float(d.scores[0]) for d in detections if len(d)]
    np.testing.assert_allclose(scores, [1.0, 0.8, 0.6, 0.4], atol=1e-5)


def test_buffers_are_reused_without_leaking_between_batches(make_model):
    detector = _brightness_detector(make_model, None, confidence=0.0)
    first, _ = detector.detect([_frame(64, 64, 255), _frame(64, 64, 255)])
    second, _ = detector.detect([_frame(64, 64, 51), _frame(64, 64, 102)])
    np.testing.assert_allclose([d.scores[0] for d in first], [1.0, 1.0], atol=1e-5)
    np.testing.assert_allclose([d.scores[0] for d in second], [0.2, 0.4], atol=1e-5)


def test_a_prepared_batch_survives_preparing_the_next(make_model):
    """prepare(k+1) while k waits to run (the prefetch thread) must not touch k's input."""
    detector = _brightness_detector(make_model, None, confidence=0.0)
    first = detector.prepare([_frame(64, 64, 255)])
    second = detector.prepare([_frame(64, 64, 51)])
    (bright,), times = detector.run(first)
    (dark,), _ = detector.run(second)
    np.testing.assert_allclose([bright.scores[0], dark.scores[0]], [1.0, 0.2], atol=1e-5)
    assert times.preprocess_ms == first.preprocess_ms > 0


def test_class_names_and_ids_resolve(make_model):
    # Anchor 0 is mostly a person (0.9) but also a car (0.3); anchor 1 is a dog.
    base = head([(16, 16, 8, 8), (40, 40, 16, 8)], [[0.9, 0.3, 0.0], [0.0, 0.0, 0.6]], anchors=4)
    detector = _detector(make_model(base), classes=["dog", 1])
    (detections,), _ = detector.detect([_frame(64, 64)])
    # With 'person' filtered out, anchor 0 is reported as the car it also is.
    assert detections.class_ids.tolist() == [2, 1]
    np.testing.assert_allclose(detections.scores, [0.6, 0.3], rtol=1e-6)


def test_unknown_class_name(make_model, simple_head):
    message = r"model.classes: 'cat' is not a class of model model \(classes: person, car, dog\)"
    with pytest.raises(ValueError, match=message):
        _detector(make_model(simple_head), classes=["cat"])


def test_class_id_out_of_range(make_model, simple_head):
    with pytest.raises(ValueError, match="id 3 is out of range for model model with 3 classes"):
        _detector(make_model(simple_head), classes=[3])


@pytest.mark.parametrize(
    "image,message",
    [
        (np.zeros((64, 64), np.uint8), r"image 1 must be a uint8 BGR array \(H, W, 3\), got uint8 \(64, 64\)"),
        (np.zeros((64, 64, 3), np.float32), "image 1 must be a uint8 BGR array"),
        (np.zeros((0, 64, 3), np.uint8), r"image 1 is empty"),
        ("frame.jpg", "image 1 must be a uint8 BGR array .* got str"),
    ],
)
def test_bad_images_are_named(make_model, simple_head, image, message):
    detector = _detector(make_model(simple_head))
    with pytest.raises(ValueError, match=message):
        detector.detect([_frame(64, 64), image])


def test_empty_batch(make_model, simple_head):
    assert _detector(make_model(simple_head)).detect([]) == ([], StageTimes())


def test_from_config(make_model, simple_head):
    cfg = ModelConfig(path=make_model(simple_head), confidence=0.7, classes=["person", "dog"], threads=1)
    with Detector.from_config(cfg) as detector:
        assert detector.info.class_names == ("person", "car", "dog")
        (detections,), _ = detector.detect([_frame(64, 64)])
    assert detections.class_ids.tolist() == [0]
