from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from jetsentry.convert.calibration import load_calibration
from jetsentry.convert.quantize import quantize_model
from jetsentry.infer import ModelInfo
from tests.infer.photos import fit_to_frame, load_photos

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO / "engines" / "models" / "jetsentry-default.onnx"
SAMPLE_VIDEO = REPO / "engines" / "samples" / "sample-scene.mp4"
FAMILIES = ("yolov8", "yolo11", "yolo26", "yolo26-end2end")


@pytest.fixture(scope="session")
def photo_folder(tmp_path_factory) -> Path:
    """Real photographs, one JPEG each at 320x240, as a calibration folder."""
    photos = load_photos()
    if len(photos) < 4:
        pytest.skip("needs test photos from ultralytics or scikit-image")
    folder = tmp_path_factory.mktemp("photos")
    for index, photo in enumerate(photos):
        cv2.imwrite(str(folder / f"photo_{index:02d}.jpg"), fit_to_frame(photo, 320, 240))
    return folder


@pytest.fixture(scope="session")
def quantized(ultralytics_families, photo_folder, tmp_path_factory):
    """{family: (fp32 path, int8 path, calibration)}, quantized on 4 real photos at 96x96."""
    out = tmp_path_factory.mktemp("int8")
    made = {}
    for family in FAMILIES:
        source = ultralytics_families[family]
        calibration = load_calibration(photo_folder, ModelInfo.from_onnx(source), 4, input_size=96)
        target = out / f"{family}.int8.onnx"
        quantize_model(source, calibration, target, method="minmax", show_progress=False)
        made[family] = (source, target, calibration)
    return made
