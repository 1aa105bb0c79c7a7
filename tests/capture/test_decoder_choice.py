"""capture.decoder auto: NVDEC for file/RTSP cameras feeding a GPU backend when PyNvVideoCodec works, else GStreamer."""

from __future__ import annotations

import logging

import pytest

from jetsentry.capture import decoders
from jetsentry.capture.decoders import choose_backend, log_choice
from jetsentry.config.models import CameraConfig, CaptureConfig


@pytest.fixture
def nvdec_works(monkeypatch):
    monkeypatch.setattr(decoders, "nvdec_available", lambda device=0: (True, f"PyNvVideoCodec 2.2.4 on GPU {device} (H200)"))


@pytest.fixture
def nvdec_missing(monkeypatch):
    monkeypatch.setattr(decoders, "nvdec_available", lambda device=0: (False, "PyNvVideoCodec is not installed"))


def _camera(source="rtsp://cam/stream", decoder=None):
    return CameraConfig(id="c", source=source, decoder=decoder)


def test_gpu_backend_with_nvdec_decodes_on_the_gpu(nvdec_works):
    choice = choose_backend(_camera(), CaptureConfig(), gpu_engine=True, device=1)
    assert choice.name == "nvdec" and choice.device == 1 and "decodes into GPU memory" in choice.reason


def test_gpu_backend_without_nvdec_uses_gstreamer_and_says_why(nvdec_missing):
    choice = choose_backend(_camera(), CaptureConfig(), gpu_engine=True)
    assert choice.name == "gstreamer" and choice.reason == "NVDEC cannot be used: PyNvVideoCodec is not installed"


def test_cpu_backend_uses_gstreamer(nvdec_works):
    choice = choose_backend(_camera(), CaptureConfig(), gpu_engine=False)
    assert choice.name == "gstreamer" and "runs on the CPU" in choice.reason


def test_sources_nvdec_cannot_read_use_gstreamer(nvdec_works):
    choice = choose_backend(_camera("v4l2:///dev/video0"), CaptureConfig(), gpu_engine=True)
    assert choice.name == "gstreamer" and "v4l2 sources" in choice.reason


@pytest.mark.parametrize("camera_decoder, capture_decoder, expected", [
    ("nvdec", "auto", "nvdec"), (None, "nvdec", "nvdec"), ("cpu", "nvdec", "gstreamer"), (None, "avdec_h264", "gstreamer"),
])
def test_explicit_choices_win(nvdec_missing, camera_decoder, capture_decoder, expected):
    choice = choose_backend(_camera(decoder=camera_decoder), CaptureConfig(decoder=capture_decoder), gpu_engine=True)
    assert choice.name == expected and "in the configuration" in choice.reason


def test_the_choice_is_logged(nvdec_works, caplog):
    with caplog.at_level(logging.INFO, logger="jetsentry.capture"):
        log_choice("gate", choose_backend(_camera(), CaptureConfig(), gpu_engine=True))
    assert "camera gate: decoding with NVDEC (PyNvVideoCodec): the model runs on the GPU" in caplog.text


def test_nvdec_without_pynvvideocodec_fails_the_camera_with_the_install_command(tmp_path):
    pytest.importorskip("cuda.bindings", reason="needs cuda-python")
    from jetsentry.capture.errors import ElementMissing, FatalCaptureError
    from jetsentry.capture.nvdec import NvdecConnection
    from jetsentry.config.source_uri import parse_source_uri

    try:
        import PyNvVideoCodec  # noqa: F401
        pytest.skip("PyNvVideoCodec is installed here")
    except ImportError:
        pass
    camera = _camera(str(tmp_path / "a.mp4"), decoder="nvdec")
    with pytest.raises(ElementMissing, match=r"capture.decoder nvdec needs PyNvVideoCodec.*Install: ") as caught:
        NvdecConnection(None, camera, parse_source_uri(camera.source), file_info=None, lossless=True, paced=False,
                        wall_clock=lambda: 0.0, clock=lambda: 0.0)
    assert isinstance(caught.value, FatalCaptureError)
