"""A model whose head disagrees with its class names is refused when it loads, in every command."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from jetsentry.cli import main as jetsentry_main
from jetsentry.config.models import ModelConfig
from jetsentry.infer import Detector, ModelError, create_engine
from jetsentry.synth import SYNTH_CLASSES
from tests.evaluate.scene_dirs import write_scene
from tests.infer.onnx_models import head, ultralytics_metadata, write_detection_model
from tests.pipeline.daemon_process import SAMPLE_VIDEO

# Five classes' scores in the head, three names in the metadata: 9 channels where 7 are expected.
NINE_CHANNELS = head([(16, 16, 8, 8)], [[0.9, 0.0, 0.0, 0.0, 0.0]], anchors=8)
MISMATCH = "9 channels but the model names 3 classes; a detection head has 4 + 3 = 7"


def _model(path, base, names, **options):
    return write_detection_model(path, base, metadata=ultralytics_metadata(list(names)), dynamic_head=True, **options)


@pytest.mark.parametrize("dims", [{"batch": 1, "hw": (64, 64)}, {"batch": None, "hw": None}, {"batch": 2, "hw": None}])
def test_dynamic_head_with_more_channels_than_names_is_refused_at_load(tmp_path, dims):
    path = _model(tmp_path / "m.onnx", NINE_CHANNELS, ["person", "car", "dog"], **dims)
    with pytest.raises(ModelError, match=re.escape(MISMATCH)) as caught:
        create_engine(ModelConfig(path=path, threads=1))
    assert str(path) in str(caught.value) and "test run" in str(caught.value)


def test_static_head_mismatch_is_refused_without_a_run(tmp_path):
    path = write_detection_model(tmp_path / "m.onnx", NINE_CHANNELS, metadata=ultralytics_metadata(["a", "b", "c"]))
    with pytest.raises(ModelError, match=re.escape(MISMATCH)) as caught:
        create_engine(ModelConfig(path=path, threads=1))
    assert "test run" not in str(caught.value)


def test_dynamic_head_that_matches_its_names_loads_and_detects(tmp_path):
    names = ["a", "b", "c", "d", "e"]
    path = _model(tmp_path / "m.onnx", NINE_CHANNELS, names, batch=None, hw=None)
    with Detector.from_config(ModelConfig(path=path, threads=1, input_size=64)) as detector:
        assert detector.info.output_channels is None
        (found,), _ = detector.detect([np.zeros((64, 64, 3), np.uint8)])
    assert found.class_ids.tolist() == [0]


def test_a_model_that_cannot_run_on_the_test_input_is_refused_naming_the_input(tmp_path):
    path = _model(tmp_path / "m.onnx", NINE_CHANNELS, ["a", "b", "c", "d", "e"], batch=None, hw=None,
                  runs_only_on_hw=(64, 64))
    # The real command, where GStreamer is loaded before ONNX Runtime raises (jetsentry/__init__.py
    # says why that once aborted the process).
    run = subprocess.run([sys.executable, "-m", "jetsentry", "analyze", str(SAMPLE_VIDEO), "--model", str(path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    assert f"model.path {path}: a test run on a [1, 3, 32, 32] input failed: " in run.stderr
    assert "Traceback" not in run.stderr


def test_analyze_refuses_the_model_with_exit_2(tmp_path, capsys):
    path = _model(tmp_path / "m.onnx", NINE_CHANNELS, ["person", "car", "dog"], batch=None, hw=None)
    assert jetsentry_main(["analyze", str(SAMPLE_VIDEO), "--model", str(path)]) == 2
    captured = capsys.readouterr()
    assert MISMATCH in captured.err and "Traceback" not in captured.err
    assert captured.out == ""  # no summary: no frame was processed


def test_eval_refuses_the_model_with_exit_2(tmp_path, capsys):
    # The metadata names the scenes' classes, so only the head's channel count is wrong.
    base = head([(16, 16, 8, 8)], np.eye(len(SYNTH_CLASSES) + 2)[:1], anchors=8)
    path = _model(tmp_path / "m.onnx", base, SYNTH_CLASSES, batch=None, hw=None)
    scenes = write_scene(tmp_path / "scenes" / "scene_0000").parent
    assert jetsentry_main(["eval", "--model", str(path), "--scenes", str(scenes)]) == 2
    err = capsys.readouterr().err
    n = len(SYNTH_CLASSES)
    assert f"{n + 6} channels but the model names {n} classes" in err and "Traceback" not in err
