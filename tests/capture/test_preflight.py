"""`jetsentry check-config` warns about sources and decoders that cannot work on this machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from jetsentry.capture.elements import has_element

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "engines" / "models" / "jetsentry-default.onnx"
SAMPLE = REPO / "engines" / "samples" / "sample-scene.mp4"
# Makes `import gi` fail, as on a machine without PyGObject.
WITHOUT_GI = "import sys; sys.modules['gi'] = None; from jetsentry.cli import main; sys.exit(main(sys.argv[1:]))"


def check_config(path: Path, *, without_gi: bool = False) -> subprocess.CompletedProcess:
    command = ["-c", WITHOUT_GI] if without_gi else ["-m", "jetsentry"]
    return subprocess.run([sys.executable, *command, "check-config", str(path)], capture_output=True, text=True,
                          timeout=120)


def write(tmp_path: Path, cameras: list[dict], **sections) -> Path:
    data = {"device_id": "demo", "mqtt": {"host": "localhost"}, "model": {"path": str(MODEL)}, "cameras": cameras,
            **sections}
    path = tmp_path / "jetsentry.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def warnings(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("warning: ")]


def test_a_config_that_works_here_has_no_warnings(tmp_path):
    cameras = [{"id": "sample", "source": str(SAMPLE)}, {"id": "t", "source": "test://ball"}]
    result = check_config(write(tmp_path, cameras))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_missing_files_and_elements_are_warned_about_and_the_config_stays_valid(tmp_path):
    missing = tmp_path / "no-such-recording.mp4"
    cameras = [
        {"id": "gone", "source": str(missing)},
        {"id": "lobby", "source": "rtsp://cam.lan/stream", "decoder": "nosuchdecoder"},
        {"id": "off", "source": str(tmp_path / "also-missing.mp4"), "enabled": False},  # not opened: not checked
        {"id": "sample", "source": str(SAMPLE)},
    ]
    result = check_config(write(tmp_path, cameras))
    assert result.returncode == 0, result.stderr
    assert "OK (4 camera(s), 3 enabled" in result.stdout
    assert warnings(result) == [
        f"warning: cameras[0].source (camera gone): file not found: {missing}",
        "warning: cameras[1].decoder: decoder element 'nosuchdecoder' is not installed",
    ]


def test_hardware_paths_absent_here_are_named(tmp_path):
    cameras = [{"id": "csi", "source": "csi://0"}, {"id": "sample", "source": str(SAMPLE)}]
    result = check_config(write(tmp_path, cameras, capture={"decoder": "nvv4l2"}))
    assert result.returncode == 0, result.stderr
    expected = []
    if not has_element("nvarguscamerasrc"):  # everywhere but a Jetson
        missing = ", ".join(n for n in ("nvarguscamerasrc", "nvvidconv") if not has_element(n))
        expected.append(f"warning: cameras[0].source (camera csi): csi sources need GStreamer element(s) "
                        f"not installed here: {missing}")
    if not has_element("nvv4l2decoder"):
        expected.append("warning: capture.decoder: decoder element 'nvv4l2decoder' is not installed "
                        "(decoder preference 'nvv4l2')")
    assert warnings(result) == expected


def test_without_gstreamer_files_are_checked_and_one_line_says_elements_are_not(tmp_path):
    missing = tmp_path / "gone.mkv"
    cameras = [{"id": "gone", "source": str(missing)}, {"id": "x", "source": "rtsp://cam/x", "decoder": "nosuchdec"}]
    result = check_config(write(tmp_path, cameras), without_gi=True)
    assert result.returncode == 0, result.stderr
    lines = warnings(result)
    assert lines[0] == f"warning: cameras[0].source (camera gone): file not found: {missing}"
    assert len(lines) == 2 and lines[1].startswith("warning: cannot check GStreamer elements and decoders: ")
    assert "install python3-gi" in lines[1]
    assert "Traceback" not in result.stderr
