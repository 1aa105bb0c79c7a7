"""bench/gpu/check_quantized_cuda.py, run here on ONNX Runtime's CPU provider with only numpy, onnx,
onnxruntime and OpenCV importable (what the lent GPU machine has), so it is known to work there."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from jetsentry.convert.fp16 import convert_to_fp16
from jetsentry.infer import Detector
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
from tests.convert.conftest import DEFAULT_MODEL, REPO, SAMPLE_VIDEO
from tests.support.videos import opencv_frames

pytestmark = pytest.mark.slow
SCRIPT = REPO / "bench" / "gpu" / "check_quantized_cuda.py"
# Everything the project installs besides numpy, onnx, onnxruntime and OpenCV.
ABSENT = ("pydantic", "yaml", "gi", "paho", "lap", "scipy", "torch", "torchvision", "ultralytics", "skimage",
          "faster_coco_eval", "pycocotools", "trackeval", "jsonschema", "hypothesis", "motmetrics", "PIL",
          "matplotlib", "tests")
RUNNER = (
    "import importlib.abc, runpy, sys\n"
    "class Absent(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    f"        if name.partition('.')[0] in {set(ABSENT)!r}:\n"
    "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
    "sys.meta_path.insert(0, Absent())\n"
    "sys.argv = sys.argv[1:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def test_the_script_compares_each_file_with_fp32_and_writes_its_json(quantized, tmp_path):
    fp32, int8, _ = quantized["yolov8"]
    fp16 = convert_to_fp16(fp32, tmp_path / "m.fp16.onnx").path
    out = tmp_path / "out" / "check.json"
    run = subprocess.run(
        [sys.executable, "-I", "-c", RUNNER, str(SCRIPT), "--fp32", str(fp32), "--fp16", str(fp16), "--int8", str(int8),
         "--frames", str(SAMPLE_VIDEO), "--count", "4", "--input-size", "96", "--providers", "cpu", "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode in (0, 1), run.stderr  # 1: a file outside its tolerance (random weights may be)
    report = json.loads(out.read_text())
    assert set(report["results"]) == {"fp32/cpu", "fp16/cpu", "int8/cpu"}
    assert report["frames"]["count"] == 4 and report["frames"]["input"] == [1, 3, 96, 96]
    fp32_row, int8_row = report["results"]["fp32/cpu"], report["results"]["int8/cpu"]
    assert fp32_row["detections_vs_fp32_same_provider"]["agreement"] == 1.0
    assert fp32_row["output_vs_fp32_same_provider"]["score_max"] == 0.0
    assert int8_row["form"].startswith("jetsentry's CPU engine form")
    assert set(int8_row["nodes_per_provider"]) == {"CPUExecutionProvider"}
    assert int8_row["detections_vs_fp32_same_provider"]["reference_boxes"] > 0
    assert "within_tolerance" in int8_row and "within_tolerance" in report["results"]["fp16/cpu"]
    assert report["files"]["int8"]["precision"] == "int8"


def test_the_scripts_detections_are_the_infer_stages_on_the_same_frames(tmp_path):
    out = tmp_path / "check.json"
    run = subprocess.run([sys.executable, str(SCRIPT), "--fp32", str(DEFAULT_MODEL), "--frames", str(SAMPLE_VIDEO),
                          "--count", "6", "--providers", "cpu", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    with Detector(OnnxRuntimeEngine(DEFAULT_MODEL, threads=1), confidence=0.25) as detector:
        per_frame = [len(detector.detect([frame])[0][0]) for frame in _frames(6)]
    assert len(set(per_frame)) > 1  # frames that differ, so a mix-up of frames would show
    assert json.loads(out.read_text())["results"]["fp32/cpu"]["detections_vs_fp32_same_provider"][
        "reference_boxes"] == sum(per_frame)


def _frames(count):
    frames = opencv_frames(SAMPLE_VIDEO)
    return [frames[i] for i in sorted({int(i) for i in np.linspace(0, len(frames) - 1, count).round()})]


def test_a_missing_provider_exits_2(tmp_path):
    run = subprocess.run([sys.executable, str(SCRIPT), "--fp32", "x.onnx", "--frames", str(SAMPLE_VIDEO),
                          "--providers", "cuda", "--out", str(tmp_path / "o.json")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "lacks CUDAExecutionProvider" in run.stderr
