"""`jetsentry engines build`: its errors here (no TensorRT, no GPU); building runs on a GPU (tests/gpu)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jetsentry import engines_cli
from tests.infer.fake_tensorrt import make_fake_tensorrt

MODEL = "engines/models/jetsentry-default.onnx"


def test_without_tensorrt_it_exits_2_with_the_install_command():
    pytest.importorskip("cuda.bindings", reason="needs cuda-python")
    try:
        import tensorrt  # noqa: F401
        pytest.skip("TensorRT is installed here")
    except ImportError:
        pass
    result = subprocess.run([sys.executable, "-m", "jetsentry", "engines", "build", "--model", MODEL],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "needs TensorRT's Python bindings" in result.stderr and "pip install tensorrt" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_settings_exit_2(capsys):
    assert engines_cli.main(["build", "--model", "no/such.onnx"]) == 2
    assert "model file not found" in capsys.readouterr().err


def test_without_a_gpu_it_exits_2_naming_the_driver(monkeypatch, capsys, tmp_path):
    pytest.importorskip("cuda.bindings", reason="needs cuda-python")
    monkeypatch.setitem(sys.modules, "tensorrt", make_fake_tensorrt("10.3.0"))
    monkeypatch.delitem(sys.modules, "jetsentry.infer.tensorrt_engine", raising=False)
    try:
        from jetsentry.gpu.cuda import get_device

        get_device(0)
        pytest.skip("this machine has a GPU")
    except Exception:  # noqa: BLE001
        pass
    assert engines_cli.main(["build", "--model", MODEL, "--state-dir", str(tmp_path)]) == 2
    assert "NVIDIA driver" in capsys.readouterr().err
