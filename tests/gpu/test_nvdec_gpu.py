"""NVDEC capture: the session's state machine and slot with device pictures, decoded by
PyNvVideoCodec or by the driver's libnvcuvid through ctypes (capture.nvdec_library).

Needs a GPU, PyNvVideoCodec and an H.264 clip: $JETSENTRY_GPU_CLIP, or one made with
GStreamer where it is installed.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from jetsentry.capture.decoders import CaptureBackend
from jetsentry.capture.frame import DevicePicture
from jetsentry.capture.session import CameraSession
from jetsentry.capture.slot import LatestFrameSlot
from jetsentry.capture.state import SessionState
from jetsentry.config.models import CameraConfig, CaptureConfig


@pytest.fixture(scope="session")
def nvdec(gpu):
    return pytest.importorskip("PyNvVideoCodec", reason="needs PyNvVideoCodec (the nvdec extra)")


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    given = os.environ.get("JETSENTRY_GPU_CLIP")
    if given:
        return Path(given)
    try:
        from tests.infer.photo_clip import make_photo_clip

        return make_photo_clip(tmp_path_factory.mktemp("clip") / "photos.mp4", 640, 360, frames_per_photo=3)
    except Exception as exc:  # noqa: BLE001 - no GStreamer, no photos
        pytest.skip(f"needs an H.264 clip ($JETSENTRY_GPU_CLIP) or GStreamer to make one: {exc}")


LIBRARIES = pytest.mark.parametrize("library", ["pynvvideocodec", "nvcuvid"])


def _session(source, library="pynvvideocodec", **camera):
    slot = LatestFrameSlot()
    config = CameraConfig(id="gpu", source=str(source), decoder="nvdec", **camera)
    session = CameraSession(config, CaptureConfig(connect_timeout_s=20, nvdec_library=library), slot,
                            backend=CaptureBackend("nvdec", "test", 0))
    return session, slot


def _drain(session, slot, check=None, timeout_s=120.0):
    taken = 0
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        frame = slot.take()
        if frame is None:
            if session.state in (SessionState.STOPPED, SessionState.FAILED) and not slot.has_frame():
                break
            slot.ready.wait(0.05)
            slot.ready.clear()
            continue
        if check is not None:
            check(frame, taken)
        frame.release()
        taken += 1
    return taken


@LIBRARIES
def test_every_frame_of_a_recording_arrives_as_a_device_picture(nvdec, clip, library):
    import cv2

    session, slot = _session(clip, library, realtime=False, on_eos="stop")
    reference = cv2.VideoCapture(str(clip))
    ok, first_bgr = reference.read()
    differences = []

    def check(frame, index):
        assert isinstance(frame.device, DevicePicture) and frame.seq == index
        if index == 0 and ok:
            differences.append(float(np.abs(frame.image.astype(int) - first_bgr.astype(int)).mean()))

    session.start()
    taken = _drain(session, slot, check)
    session.stop()
    stats = session.stats
    assert stats.state == SessionState.STOPPED and stats.last_error is None
    assert taken == stats.frames == stats.decoded > 0 and stats.dropped == 0
    if differences:  # the same frame decoded by FFmpeg on the CPU looks the same
        assert differences[0] < 3.0


@LIBRARIES
def test_a_played_file_loops_and_released_buffers_are_reused(nvdec, clip, library):
    from jetsentry.capture.nvdec import POOL_SIZE

    session, slot = _session(clip, library, realtime=True, on_eos="loop", fps_cap=60)
    session.start()
    assert session.wait_for_state(SessionState.STREAMING, 30)
    pointers = set()
    stop_at = time.monotonic() + 3.0
    while time.monotonic() < stop_at:
        frame = slot.take()
        if frame is not None:
            pointers.add(frame.device.luma_ptr)
            frame.release()
        else:
            slot.ready.wait(0.05)
            slot.ready.clear()
    session.stop()
    assert session.stats.frames > 10 and len(pointers) <= POOL_SIZE  # the pool's buffers, over and over


def test_a_missing_file_fails_the_camera(nvdec, tmp_path):
    session, _ = _session(tmp_path / "absent.mp4", realtime=False, on_eos="stop")
    session.start()
    assert session.wait_for_state(SessionState.FAILED, 20)
    assert "file not found" in session.last_error


@LIBRARIES
def test_stop_while_a_frame_waits_for_the_consumer(nvdec, clip, library):
    session, slot = _session(clip, library, realtime=False, on_eos="stop")
    session.start()
    assert session.wait_for_state(SessionState.STREAMING, 30)
    time.sleep(0.3)  # the decode thread now waits in put_when_taken
    stopped = threading.Thread(target=session.stop)
    stopped.start()
    stopped.join(10)
    assert not stopped.is_alive() and session.state == SessionState.STOPPED
    slot.discard()
