"""`jetsentry models quantize` and `jetsentry models fp16` end to end, and every bad input ending in exit 2."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from jetsentry.cli import main as jetsentry_main
from jetsentry.infer import Detector, ModelInfo
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
from tests.convert.conftest import DEFAULT_MODEL, SAMPLE_VIDEO
from tests.support.videos import garbage_file

pytestmark = pytest.mark.slow


def _quantize(*args: str) -> int:
    return jetsentry_main(["models", "quantize", *args])


def test_quantize_from_a_video_writes_an_int8_model_with_a_progress_bar(ultralytics_families, tmp_path, capsys):
    out = tmp_path / "m.int8.onnx"
    assert _quantize("--model", str(ultralytics_families["yolo11"]), "--calib", str(SAMPLE_VIDEO), "--samples", "3",
                     "--method", "minmax", "--input-size", "96", "--out", str(out)) == 0
    captured = capsys.readouterr()
    assert "calibrating (minmax): [" in captured.err and "3/3 frames" in captured.err
    assert "meets TensorRT's explicit-quantization rules (TensorRT 8.5 to 11)" in captured.out
    info = ModelInfo.from_onnx(out)
    assert info.precision == "int8" and info.metadata["calibration_samples"] == "3"
    assert out.stat().st_mode & 0o044  # readable by others, as a file written with open() would be


def test_percentile_is_the_default_and_a_tensor_it_cannot_bin_is_named(ultralytics_families, tmp_path, capsys):
    # Random weights leave a tensor spanning almost nothing on 3 frames: numpy cannot make its histogram.
    assert _quantize("--model", str(ultralytics_families["yolo11"]), "--calib", str(SAMPLE_VIDEO), "--samples", "3",
                     "--input-size", "96", "--out", str(tmp_path / "m.int8.onnx")) == 2
    err = capsys.readouterr().err
    assert "calibrating (percentile): [" in err
    assert "percentile calibration failed: " in err and "use --method minmax or entropy" in err
    assert "Traceback" not in err


def test_quantize_from_the_cameras_of_a_config(ultralytics_families, tmp_path, capsys):
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump({
        "device_id": "d", "model": {"path": str(ultralytics_families["yolov8"]), "input_size": 96},
        "cameras": [{"id": "file", "source": str(SAMPLE_VIDEO)}, {"id": "live", "source": "test://smpte"}],
    }))
    out = tmp_path / "m.int8.onnx"
    assert _quantize("--model", str(ultralytics_families["yolov8"]), "--calib", str(config), "--samples", "2",
                     "--method", "minmax", "--out", str(out)) == 0, capsys.readouterr().err
    assert ModelInfo.from_onnx(out).metadata["calibration_samples"] == "2"


def test_fp16_keeps_float32_input_and_output_and_stays_close(tmp_path, capsys):
    out = tmp_path / "m.fp16.onnx"
    assert jetsentry_main(["models", "fp16", "--model", str(DEFAULT_MODEL), "--out", str(out)]) == 0
    assert "head in float16" in capsys.readouterr().out
    info = ModelInfo.from_onnx(out)
    assert (info.precision, info.input_dtype, info.class_names) == ("fp16", "float32",
                                                                     ModelInfo.from_onnx(DEFAULT_MODEL).class_names)
    assert info.metadata["fp16_head"] == "fp16"
    frame = np.random.default_rng(3).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    batch = Detector(OnnxRuntimeEngine(DEFAULT_MODEL, threads=1)).prepare([frame]).tensor
    reference = OnnxRuntimeEngine(DEFAULT_MODEL, threads=1).infer(batch)
    half = OnnxRuntimeEngine(out, threads=1).infer(batch)
    assert half.dtype == np.float32
    assert np.abs(half[:, 4:] - reference[:, 4:]).max() < 0.01  # class scores
    assert np.abs(half[:, :4] - reference[:, :4]).max() < 1.0  # box coordinates, input pixels


@pytest.fixture
def yolov8(ultralytics_families):
    return str(ultralytics_families["yolov8"])


@pytest.mark.parametrize("case, expected", [
    ("not_onnx", "is not an ONNX model"),
    ("empty_folder", "holds no images"),
    ("unreadable_image", "cannot be read as an image"),
    ("too_few_images", "holds 2 images, fewer than the 5 samples asked for"),
    ("garbage_video", "calibration video"),
    ("missing_source", "does not exist"),
    ("short_video", "fewer than the 500 samples asked for"),
    ("zero_samples", "--samples must be >= 1"),
    ("already_int8", "is already a int8 model; quantize the FP32 model"),
    ("out_is_model", "is the input model"),
    ("out_folder_missing", "does not exist"),
])
def test_bad_input_exits_2_naming_the_problem(case, expected, yolov8, quantized, photo_folder, tmp_path, capsys):
    model, calib, samples, out = yolov8, str(photo_folder), "2", str(tmp_path / "out.onnx")
    if case == "not_onnx":
        (tmp_path / "m.onnx").write_bytes(b"\xff\xd8\xff\xe0 a JPEG, not a model")
        model = str(tmp_path / "m.onnx")
    elif case == "empty_folder":
        (tmp_path / "empty").mkdir()
        calib = str(tmp_path / "empty")
    elif case in ("unreadable_image", "too_few_images"):
        folder = tmp_path / "few"
        folder.mkdir()
        (folder / "a.jpg").write_bytes((photo_folder / "photo_00.jpg").read_bytes())
        (folder / "b.png").write_bytes(b"not a picture" if case == "unreadable_image" else
                                       (photo_folder / "photo_01.jpg").read_bytes())
        calib, samples = str(folder), ("2" if case == "unreadable_image" else "5")
    elif case == "garbage_video":
        calib = str(garbage_file(tmp_path / "noise.mp4"))
    elif case == "missing_source":
        calib = str(tmp_path / "nowhere.mp4")
    elif case == "short_video":
        calib, samples = str(SAMPLE_VIDEO), "500"
    elif case == "zero_samples":
        samples = "0"
    elif case == "already_int8":
        model = str(quantized["yolov8"][1])
    elif case == "out_is_model":
        out = model
    elif case == "out_folder_missing":
        out = str(tmp_path / "no" / "out.onnx")
    assert _quantize("--model", model, "--calib", calib, "--samples", samples, "--input-size", "96",
                     "--method", "minmax", "--out", out) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert err.startswith("jetsentry models quantize: error: ")


def test_quantizing_leaves_nothing_in_the_working_directory(tmp_path, monkeypatch, capsys):
    # ONNX Runtime's symbolic shape inference writes a copy of a model it cannot type into the working
    # directory (the default model's dynamic graph is one); the quantizer does not use it.
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    out = tmp_path / "m.int8.onnx"
    assert _quantize("--model", str(DEFAULT_MODEL), "--calib", str(SAMPLE_VIDEO), "--samples", "2",
                     "--out", str(out)) == 0, capsys.readouterr().err
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.int8.onnx", "work"]
