from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.infer.onnx_models import head, ultralytics_metadata, write_detection_model

COCO_MODEL = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "yolov8n-coco.onnx"
NAMES = ["person", "car", "dog"]


@pytest.fixture(scope="session")
def coco_model() -> Path:
    if not COCO_MODEL.is_file():
        pytest.skip(f"needs the COCO test model {COCO_MODEL} (absent outside the project workspace)")
    return COCO_MODEL


@pytest.fixture
def make_model(tmp_path):
    """Write a tiny detection model: make_model(base, name=..., **write_detection_model options)."""

    def make(base: np.ndarray, *, name: str = "model.onnx", names=NAMES, metadata=None, **options) -> Path:
        if metadata is None:
            hw = options.get("hw", (64, 64))
            batch = options.get("batch", 1)
            metadata = ultralytics_metadata(names, imgsz=hw or (64, 64), batch=batch or 1)
        return write_detection_model(tmp_path / name, base, metadata=metadata, **options)

    return make


@pytest.fixture
def simple_head() -> np.ndarray:
    """Two boxes in a 64x64 input: a person (0.9) and a dog (0.6); 8 anchors."""
    return head([(16, 16, 8, 8), (40, 40, 16, 8)], [[0.9, 0.1, 0.0], [0.0, 0.2, 0.6]], anchors=8)
