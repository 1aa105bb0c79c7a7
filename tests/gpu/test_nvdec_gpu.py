"""NVDEC capture: the session's state machine and slot with device pictures, decoded by
PyNvVideoCodec or by the driver's libnvcuvid through ctypes (capture.nvdec_library), on a
thread of this process or in a decoder process of the camera's own (capture.nvdec_process).

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


# (capture.nvdec_library, capture.nvdec_process)
LIBRARIES = pytest.mark.parametrize("library", ["pynvvideocodec", "nvcuvid", "pynvvideocodec-process"])


def _session(source, library="pynvvideocodec", **camera):
    slot = LatestFrameSlot()
    library, _, where = library.partition("-")
    config = CameraConfig(id="gpu", source=str(source), decoder="nvdec", **camera)
    capture = CaptureConfig(connect_timeout_s=20, nvdec_library=library, nvdec_process=where == "process")
    session = CameraSession(config, capture, slot, backend=CaptureBackend("nvdec", "test", 0))
    return session, slot


def _decoder_processes() -> list[int]:
    """The pids of this process's decoder processes."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("PPid:"))
        if ppid == os.getpid() and b"jetsentry.capture.nvdec_child" in cmdline:
            found.append(int(entry.name))
    return found


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
    slot.discard()
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


def _pictures(clip, library, count):
    session, slot = _session(clip, library, realtime=False, on_eos="stop")
    pictures = []

    def keep(frame, index):
        if index < count:
            pictures.append(frame.device.download().data.copy())

    session.start()
    _drain(session, slot, keep)
    session.stop()
    return pictures


def test_a_decoder_process_hands_over_the_same_pictures_byte_for_byte(nvdec, clip):
    here = _pictures(clip, "pynvvideocodec", 12)
    there = _pictures(clip, "pynvvideocodec-process", 12)
    assert len(here) == len(there) == 12
    assert all(np.array_equal(a, b) for a, b in zip(here, there))
    deadline = time.monotonic() + 15  # a child ends once the pictures it lent are all back
    while _decoder_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _decoder_processes() == []


def test_a_killed_decoder_process_is_replaced_and_frames_flow_again(nvdec, clip):
    import signal

    session, slot = _session(clip, "pynvvideocodec-process", realtime=True, on_eos="loop")
    session.start()
    try:
        assert session.wait_for_state(SessionState.STREAMING, 60)
        first = _decoder_processes()
        assert len(first) == 1
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while "decoder process" not in (session.last_error or "") and time.monotonic() < deadline:
            slot.discard()
            time.sleep(0.05)
        assert "killed by signal 9" in session.last_error
        assert session.wait_for_state(SessionState.STREAMING, 60)
        before = session.stats.frames
        deadline = time.monotonic() + 10
        while session.stats.frames < before + 5 and time.monotonic() < deadline:
            frame = slot.take()
            if frame is not None:
                frame.release()
            else:
                slot.ready.wait(0.05)
                slot.ready.clear()
        assert session.stats.frames >= before + 5
        second = _decoder_processes()
        assert len(second) == 1 and second != first
    finally:
        session.stop()
        slot.discard()
