"""Fixtures: small real H.264/H.265 clips and a real RTSP server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from jetsentry.capture.session import CameraSession
from jetsentry.capture.slot import LatestFrameSlot
from jetsentry.config.models import CameraConfig, CaptureConfig
from tests.support import videos

# Solid clip colour as 0xAARRGGBB and the BGR triple it should decode to.
SOLID_ARGB = 0xFF2080E0
SOLID_BGR = (0xE0, 0x80, 0x20)
CLIP_FRAMES = 30
CLIP_FPS = 30


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> SimpleNamespace:
    """One clip per container/codec, plus broken ones; 320x240, 30 frames at 30 fps."""
    d = tmp_path_factory.mktemp("clips")
    c = SimpleNamespace(dir=d)
    c.mp4 = videos.make_video(d / "h264.mp4", frames=CLIP_FRAMES, fps=CLIP_FPS)
    c.mkv = videos.make_video(d / "h264.mkv", frames=CLIP_FRAMES, fps=CLIP_FPS)
    c.mov = videos.make_video(d / "h264.mov", frames=CLIP_FRAMES, fps=CLIP_FPS)
    c.ts = videos.make_video(d / "h265.ts", codec="h265", frames=CLIP_FRAMES, fps=CLIP_FPS)
    c.h264 = videos.make_video(d / "clip.h264", frames=CLIP_FRAMES, fps=CLIP_FPS)
    c.h265 = videos.make_video(d / "clip.h265", codec="h265", frames=CLIP_FRAMES, fps=CLIP_FPS)
    c.h265_mp4 = videos.make_video(d / "h265.mp4", codec="h265", frames=CLIP_FRAMES, fps=CLIP_FPS)
    c.solid = videos.make_video(d / "solid.mp4", frames=10, fps=CLIP_FPS, color_argb=SOLID_ARGB)
    # 322 px * 3 bytes = 966: GStreamer pads each BGR row to 968 bytes.
    c.padded = videos.make_video(d / "padded.mkv", frames=10, width=322, height=242, fps=CLIP_FPS)
    c.truncated = videos.truncate_file(c.mp4, d / "truncated.mp4", 0.5)  # index (moov) is at the end
    c.garbage = videos.garbage_file(d / "garbage.mp4")
    c.text = d / "notes.mp4"
    c.text.write_text("this is not a video\n" * 50)
    c.corrupt = videos.corrupt_h264_tail(c.h264, d / "corrupt.h264")
    return c


def wait_until(condition: Callable[[], bool], timeout_s: float = 15.0, poll_s: float = 0.02) -> bool:
    """Poll `condition` until true; the timeout only bounds a broken run."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(poll_s)
    return condition()


@pytest.fixture
def no_thread_leak():
    """Fails the test when it leaves threads running."""
    before = set(threading.enumerate())
    yield
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leftover, f"threads left running: {[t.name for t in leftover]}"


# Small backoff and timeouts so recovery tests run in seconds.
FAST = CaptureConfig(backoff_base_s=0.1, backoff_cap_s=0.8, stall_timeout_s=2.0, connect_timeout_s=5.0)


@pytest.fixture
def sessions(no_thread_leak):
    """make(source, camera_id=..., capture=..., slot=..., rng=..., problem_log_interval_s=..., **camera)
    -> CameraSession;
    every session made is stopped (and must stop) when the test ends."""
    made: list[CameraSession] = []

    def make(source: str, *, camera_id: str = "cam", capture: CaptureConfig = FAST,
             slot: LatestFrameSlot | None = None, rng=None, problem_log_interval_s: float | None = None,
             **camera) -> CameraSession:
        config = CameraConfig(id=camera_id, source=source, **camera)
        options = {} if problem_log_interval_s is None else {"problem_log_interval_s": problem_log_interval_s}
        s = CameraSession(config, capture, slot or LatestFrameSlot(), rng=rng, **options)
        made.append(s)
        return s

    yield make
    for s in made:
        assert s.stop(), f"{s.camera_id} did not stop"
