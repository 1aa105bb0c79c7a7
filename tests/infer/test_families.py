"""Every current Ultralytics detector family, as Ultralytics 8.4 exports it: the layout is read
from the output's shape, and detections equal Ultralytics' own predict on the same file."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.infer import Detector, ModelInfo
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
from tests.infer.matching import detections_from_ultralytics, match_detections
from tests.infer.photos import load_photos
from tests.support.ultralytics_models import FAMILIES

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_layout_is_told_by_the_output_shape(ultralytics_families, family):
    info = ModelInfo.from_onnx(ultralytics_families[family])
    expected = FAMILIES[family][2]
    assert info.output_layout == expected
    assert info.needs_nms == (expected == "anchors")
    assert info.precision == "fp32" and info.num_classes == 80
    if family == "yolov8-nms":  # the metadata says end2end False, the graph ends in NMS
        assert info.metadata["end2end"] == "False" and (info.num_anchors, info.output_channels) == (300, 6)


@pytest.fixture(scope="module")
def photos():
    found = load_photos()
    if len(found) < 2:
        pytest.skip("needs test photos from ultralytics or scikit-image")
    return found[:4]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_detections_equal_ultralytics_predict_on_the_same_file(ultralytics_families, family, photos):
    ultralytics = pytest.importorskip("ultralytics")
    path = ultralytics_families[family]
    conf = 0.25
    with Detector(OnnxRuntimeEngine(path, threads=1), confidence=conf, iou=0.7, input_size=96) as detector:
        ours = [detector.detect([photo])[0][0] for photo in photos]
    reference = ultralytics.YOLO(str(path), task="detect")
    theirs = detections_from_ultralytics(reference.predict(photos, conf=conf, iou=0.7, imgsz=96, verbose=False))
    stats = match_detections(_proper(ours), _proper(theirs), iou_min=0.95)
    assert stats.theirs >= 20, stats.summary()
    assert stats.matched_fraction >= 0.98, stats.summary()
    assert stats.max_score_diff <= 1e-3, stats.summary()


def _proper(detections):
    """Boxes with positive width and height: random weights also give inverted boxes (x2 < x1), whose
    IoU means nothing, so they cannot be matched either way."""
    return [d.select((d.boxes[:, 2] > d.boxes[:, 0]) & (d.boxes[:, 3] > d.boxes[:, 1])) for d in detections]
