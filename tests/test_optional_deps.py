"""Missing optional dependencies: the real commands, run with a package made unimportable.

tests/support/without_modules.py makes each named top-level package raise the
ModuleNotFoundError Python raises when it is not installed; every command must then exit 2
with the exact install command for the interpreter that ran it, before doing any work,
and never print a traceback.
"""

from __future__ import annotations

import importlib.metadata
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.evaluate.scene_dirs import write_scene
from tests.pipeline.daemon_process import DEFAULT_MODEL, SAMPLE_VIDEO, daemon_config

REPO = Path(__file__).resolve().parents[1]
WITHOUT = REPO / "tests" / "support" / "without_modules.py"
PYTHON = shlex.quote(sys.executable)
INSTALL_EXTRAS = f"{PYTHON} {shlex.quote(str(REPO / 'scripts' / 'install_extras.py'))}"
APT_GSTREAMER = "apt-get install python3-gi python3-gst-1.0 gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0"
CLOSED_PORT = 9  # discard: nothing listens there, and nothing may try


def jetsentry_without(packages: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(WITHOUT), packages, "jetsentry", *map(str, args)],
                          capture_output=True, text=True, timeout=240, cwd=REPO)


def assert_install_error(result: subprocess.CompletedProcess, *expected: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    for text in expected:
        assert text in result.stderr, result.stderr


@pytest.fixture
def daemon_yaml(tmp_path: Path) -> Path:
    return daemon_config(tmp_path / "jetsentry.yaml", port=CLOSED_PORT,
                         cameras=[{"id": "sample", "source": str(SAMPLE_VIDEO)}])


def test_run_without_pygobject(daemon_yaml):
    result = jetsentry_without("gi", "run", "--config", daemon_yaml)
    assert_install_error(result, "jetsentry run needs GStreamer's Python bindings", "No module named 'gi'",
                         APT_GSTREAMER, sys.executable)
    assert "running:" not in result.stderr  # refused before the model, cameras or broker started


def test_run_without_onnx_runtime_names_both_extras_and_the_jetson_wheel(daemon_yaml):
    result = jetsentry_without("onnxruntime", "run", "--config", daemon_yaml)
    assert_install_error(result, "needs ONNX Runtime", "No module named 'onnxruntime'",
                         f"{INSTALL_EXTRAS} cpu", f"{INSTALL_EXTRAS} gpu", "Jetson", "onnxruntime_gpu-*.whl")


@pytest.mark.parametrize("package, expected", [
    ("gi", APT_GSTREAMER),
    ("onnxruntime", f"{INSTALL_EXTRAS} cpu"),
])
def test_analyze_without(package, expected):
    result = jetsentry_without(package, "analyze", SAMPLE_VIDEO, "--model", DEFAULT_MODEL)
    assert_install_error(result, "jetsentry analyze" if package == "gi" else "ONNX Runtime", expected)
    assert "frames/s" not in result.stderr


def test_analyze_and_tracking_need_no_scipy(tmp_path):
    """scipy belongs to the eval and test extras only: the daemon's stages run without it."""
    out = tmp_path / "out.jsonl"
    result = jetsentry_without("scipy", "analyze", SAMPLE_VIDEO, "--model", DEFAULT_MODEL, "--out", out)
    assert result.returncode == 0, result.stderr
    messages = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(messages) == 150
    assert any(d["track_id"] is not None for m in messages for d in m["detections"])


@pytest.mark.parametrize("packages, names", [
    ("faster_coco_eval", "faster-coco-eval"),
    ("trackeval", "TrackEval"),
    ("scipy", "TrackEval and SciPy"),  # TrackEval imports SciPy
])
def test_eval_without_its_extra_fails_before_the_model_loads(tmp_path, packages, names):
    write_scene(tmp_path / "scene_0000")
    result = jetsentry_without(packages, "eval", "--model", DEFAULT_MODEL, "--scenes", tmp_path)
    assert_install_error(result, f"jetsentry eval needs {names}", f"{INSTALL_EXTRAS} eval")
    assert "evaluating" not in result.stderr


def test_eval_with_pycocotools_without_pycocotools(tmp_path):
    write_scene(tmp_path / "scene_0000")
    result = jetsentry_without("pycocotools", "eval", "--model", DEFAULT_MODEL, "--scenes", tmp_path,
                               "--coco-library", "pycocotools")
    assert_install_error(result, "jetsentry eval needs pycocotools", f"{INSTALL_EXTRAS} eval")


def test_eval_checks_dependencies_before_its_arguments_files(tmp_path):
    result = jetsentry_without("faster_coco_eval", "eval", "--model", tmp_path / "none.onnx",
                               "--scenes", tmp_path / "none")
    assert_install_error(result, "faster-coco-eval", f"{INSTALL_EXTRAS} eval")


def test_synth_video_without_pygobject_and_without_video(tmp_path):
    result = jetsentry_without("gi", "synth", "--seed", 1, "--out", tmp_path / "a", "--scenes", 1, "--frames", 2,
                               "--jobs", 1)
    assert_install_error(result, "jetsentry synth", APT_GSTREAMER)
    assert not (tmp_path / "a").exists()
    result = jetsentry_without("gi", "synth", "--seed", 1, "--out", tmp_path / "b", "--scenes", 1, "--frames", 2,
                               "--jobs", 1, "--no-video")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "b" / "scene_0000" / "gt" / "gt.txt").is_file()


def test_check_config_and_version_need_neither_gstreamer_nor_onnx_runtime(daemon_yaml):
    result = jetsentry_without("gi,onnxruntime", "check-config", daemon_yaml)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert jetsentry_without("gi,onnxruntime", "version").returncode == 0


@pytest.mark.skipif(not Path("/usr/bin/python3").is_file(), reason="needs the system's /usr/bin/python3")
def test_gstreamer_hint_says_when_the_venv_cannot_see_system_packages(tmp_path):
    base = subprocess.run(["/usr/bin/python3", "-c", "import sys; print(sys.base_prefix)"], capture_output=True,
                          text=True, check=True).stdout.strip()
    if base != "/usr":
        pytest.skip(f"/usr/bin/python3 is based on {base}")
    # A venv of the system interpreter: EnvBuilder uses the running one, so build it with /usr/bin/python3.
    for system_site_packages in (False, True):
        env_dir = tmp_path / f"venv-{system_site_packages}"
        flags = ["--system-site-packages"] if system_site_packages else []
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", *flags, str(env_dir)], check=True,
                       timeout=120)
        code = "from jetsentry.optional import GSTREAMER; print('\\n'.join(GSTREAMER.install()))"
        hint = subprocess.run([str(env_dir / "bin" / "python"), "-c", code], capture_output=True, text=True,
                              timeout=60, env={"PYTHONPATH": str(REPO / "daemon")}, check=True).stdout
        assert APT_GSTREAMER in hint
        if system_site_packages:
            assert "does not see the system's packages" not in hint, hint
        else:
            assert f"the virtual environment {env_dir} does not see the system's packages" in hint, hint
            assert f"/usr/bin/python3 -m venv --system-site-packages {env_dir}" in hint, hint


def test_core_dependencies_pick_no_onnx_runtime_and_no_scipy():
    """Each ONNX Runtime build installs the same package: a hard dependency on one replaces the others."""
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    from packaging.requirements import Requirement

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

    def names(requirements):
        return {Requirement(r).name.lower() for r in requirements}

    core = names(project["dependencies"])
    assert not core & {"onnxruntime", "onnxruntime-gpu", "scipy"}, core
    extras = {name: names(reqs) for name, reqs in project["optional-dependencies"].items()}
    assert extras["cpu"] == {"onnxruntime"} and extras["gpu"] == {"onnxruntime-gpu", "cuda-python", "nvidia-ml-py"}
    assert extras["nvml"] == {"nvidia-ml-py"}  # Jetson Thor: NVML without onnxruntime-gpu
    assert {"faster-coco-eval", "pycocotools", "trackeval", "scipy"} <= extras["eval"]  # all that eval imports


def test_opencv_is_installed_once():
    """opencv-python and opencv-python-headless both install cv2; with both, each overwrites the other."""
    others = [name for name in ("opencv-python", "opencv-contrib-python", "opencv-contrib-python-headless")
              if _installed(name)]
    assert not others, f"{others} installed beside opencv-python-headless (scripts/install_extras.py avoids it)"


def _installed(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True
