"""The bundled INT8 and FP16 variants of the default model: made from the bundled FP32 file by the
quantizer and the converter, meeting TensorRT's rules, and detecting what the FP32 file detects."""

from __future__ import annotations

import hashlib
from pathlib import Path

import onnx
import pytest

from jetsentry.config import load_config
from jetsentry.convert.qdq_rules import check_explicit_quantization
from jetsentry.infer import Detector, ModelInfo
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
from jetsentry.infer.variants import select_model_file
from tests.infer.matching import match_detections
from tests.support.videos import opencv_frames

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "engines" / "models"
FP32, INT8, FP16 = (MODELS / f"jetsentry-default{suffix}.onnx" for suffix in ("", ".int8", ".fp16"))
SAMPLE = REPO / "engines" / "samples" / "sample-scene.mp4"


def test_variants_come_from_the_bundled_fp32_model():
    source = hashlib.sha256(FP32.read_bytes()).hexdigest()
    for path, precision in ((INT8, "int8"), (FP16, "fp16")):
        info = ModelInfo.from_onnx(path)
        assert info.precision == precision and info.metadata["source_sha256"] == source
        assert info.class_names == ModelInfo.from_onnx(FP32).class_names
    assert int(ModelInfo.from_onnx(INT8).metadata["calibration_samples"]) >= 100
    assert check_explicit_quantization(onnx.load(str(INT8))) == []


def test_the_bundled_config_runs_the_int8_file_on_the_cpu():
    cfg = load_config(REPO / "config" / "jetsentry.yaml", environ={})
    assert select_model_file(cfg.model).path == INT8
    assert select_model_file(cfg.model, backend="onnxruntime-cuda").path == FP16


@pytest.mark.slow
def test_int8_detects_what_fp32_detects_on_the_sample_scene():
    frames = opencv_frames(SAMPLE)[::10]

    def detect(path):
        with Detector(OnnxRuntimeEngine(path, threads=2), confidence=0.25) as detector:
            return [detector.detect([frame])[0][0] for frame in frames]

    stats = match_detections(detect(INT8), detect(FP32), iou_min=0.9)
    assert stats.theirs >= 100, stats.summary()
    assert stats.matched / stats.theirs >= 0.95, stats.summary()
