"""CameraSession on real files and live test sources (RTSP lives in test_rtsp.py)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from jetsentry.capture.session import CameraSession
from jetsentry.config.models import CaptureConfig
from jetsentry.capture.slot import LatestFrameSlot
from jetsentry.capture.state import SessionState
from tests.capture.conftest import CLIP_FRAMES, wait_until


def states(s: CameraSession) -> list[SessionState]:
    return [change.state for change in s.stats.transitions]


def test_file_loops_and_seq_keeps_increasing(sessions, clips):
    s = sessions(str(clips.mp4), on_eos="loop")
    s.start()
    assert wait_until(lambda: s.stats.loops >= 1 and s.stats.decoded > CLIP_FRAMES + 5)
    assert s.state == SessionState.STREAMING
    assert states(s) == [SessionState.IDLE, SessionState.CONNECTING, SessionState.STREAMING]
    frame = s.slot.take()
    assert frame.seq >= CLIP_FRAMES  # numbering did not restart at the loop
    assert frame.image.shape == (240, 320, 3) and frame.camera_id == "cam"


@pytest.mark.parametrize("clip", ["h264", "h265"])
def test_raw_stream_loops_too(sessions, clips, clip):
    s = sessions(str(getattr(clips, clip)), on_eos="loop")
    s.start()
    assert wait_until(lambda: s.stats.loops >= 1 and s.stats.decoded > CLIP_FRAMES)
    assert s.state == SessionState.STREAMING


def test_file_stops_at_end_with_every_frame_decoded(sessions, clips):
    s = sessions(str(clips.mkv), on_eos="stop")
    s.start()
    assert s.wait_for_state(SessionState.STOPPED, 15)
    stats = s.stats
    assert stats.decoded == CLIP_FRAMES
    assert stats.frames + stats.dropped_fps_cap == CLIP_FRAMES
    assert stats.last_error is None
    assert states(s)[-2:] == [SessionState.STREAMING, SessionState.STOPPED]
    assert s.stats.transitions[-1].reason == "end of file"


def test_capture_ts_follows_the_file_clock(sessions, clips):
    got = []
    s = sessions(str(clips.mp4), on_eos="stop", slot=_RecordingSlot(got))
    s.start()
    assert s.wait_for_state(SessionState.STOPPED, 15)
    assert [f.seq for f in got] == list(range(CLIP_FRAMES))
    steps = np.diff([f.capture_ts for f in got])
    assert steps == pytest.approx(np.full(CLIP_FRAMES - 1, 1 / 30), abs=1e-3)


def test_fps_cap_drops_frames_before_the_slot(sessions, clips):
    s = sessions(str(clips.mp4), on_eos="stop", fps_cap=10)
    s.start()
    assert s.wait_for_state(SessionState.STOPPED, 15)
    stats = s.stats
    assert stats.decoded == CLIP_FRAMES
    assert stats.frames == 10  # one second of 30 fps video at 10 fps
    assert stats.dropped_fps_cap == CLIP_FRAMES - 10
    assert s.slot.put_count == 10


def test_missing_file_fails_at_once_naming_the_path(sessions, clips):
    missing = clips.dir / "no-such-clip.mp4"
    s = sessions(str(missing))
    s.start()
    assert s.wait_for_state(SessionState.FAILED, 10)
    assert s.last_error == f"file not found: {missing}"
    assert s.stats.reconnects == 0 and s.stats.retries == ()


@pytest.mark.parametrize("clip", ["truncated", "garbage", "corrupt"])
def test_broken_file_fails_that_camera_only(sessions, clips, clip):
    good = sessions("test://ball?width=160&height=120&fps=15", camera_id="good")
    bad = sessions(str(getattr(clips, clip)), camera_id="bad")
    good.start()
    bad.start()
    assert bad.wait_for_state(SessionState.FAILED, 15)
    assert getattr(clips, clip).name in bad.last_error
    assert "cannot decode" in bad.last_error
    before = good.stats.frames
    assert wait_until(lambda: good.stats.frames > before + 5)
    assert good.state == SessionState.STREAMING


def test_test_source_streams_and_stop_is_clean(sessions):
    s = sessions("test://smpte?width=160&height=120&fps=30")
    s.start()
    assert s.wait_for_state(SessionState.STREAMING, 10)
    assert wait_until(lambda: s.slot.has_frame())
    frame = s.slot.take()
    assert frame.image.shape == (120, 160, 3)
    assert s.stop()
    assert s.state == SessionState.STOPPED
    assert not any(t.name == "capture-cam" for t in threading.enumerate())


def test_unknown_test_pattern_fails_with_a_clear_error(sessions):
    s = sessions("test://no-such-pattern")
    s.start()
    assert s.wait_for_state(SessionState.FAILED, 10)
    assert "no-such-pattern" in s.last_error


def test_disabled_camera_never_opens(sessions):
    s = sessions("test://ball", enabled=False)
    s.start()
    assert s.state == SessionState.STOPPED and s.stats.decoded == 0


def test_missing_decoder_override_fails_the_camera(sessions, clips):
    s = sessions(str(clips.mp4), decoder="nosuchdecoder")
    s.start()
    assert s.wait_for_state(SessionState.FAILED, 10)
    assert "nosuchdecoder" in s.last_error


def test_start_twice_is_an_error(sessions):
    s = sessions("test://ball?width=64&height=48")
    s.start()
    with pytest.raises(RuntimeError, match="already started"):
        s.start()


class _RecordingSlot(LatestFrameSlot):
    """A slot that also keeps every frame it was given (to check numbering and clocks)."""

    def __init__(self, sink: list) -> None:
        super().__init__()
        self._sink = sink

    def put(self, frame) -> None:
        self._sink.append(frame)
        super().put(frame)


def test_missing_usb_camera_is_retried_and_warned_about_once(sessions, caplog):
    caplog.set_level("DEBUG", logger="jetsentry.capture")
    s = sessions("v4l2:///dev/video99")
    s.start()
    assert wait_until(lambda: len(s.stats.retries) >= 3)
    assert s.state in (SessionState.RECOVERING, SessionState.CONNECTING)  # it may be plugged in later
    assert s.last_error.startswith("source not found: v4l2:///dev/video99")
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "/dev/video99" in warnings[0].getMessage()


def test_file_not_realtime_hands_over_every_frame_to_a_slow_consumer(sessions, clips):
    s = sessions(str(clips.mp4), on_eos="stop", realtime=False)
    s.start()
    taken = []
    while len(taken) < CLIP_FRAMES and s.state != SessionState.FAILED:
        frame = s.slot.take()
        if frame is None:
            s.slot.ready.wait(0.05)
            s.slot.ready.clear()
            continue
        taken.append(frame.seq)
        threading.Event().wait(0.02)  # slower than decoding: capture must wait, not drop
    assert taken == list(range(CLIP_FRAMES))
    assert s.wait_for_state(SessionState.STOPPED, 10)
    assert s.stats.dropped_slot == 0 and s.slot.dropped == 0


def test_file_not_realtime_stops_while_waiting_for_the_consumer(sessions, clips):
    quick_stall = CaptureConfig(backoff_base_s=0.1, backoff_cap_s=0.8, stall_timeout_s=0.3, connect_timeout_s=5.0)
    s = sessions(str(clips.mp4), on_eos="loop", realtime=False, capture=quick_stall)
    s.start()
    assert wait_until(lambda: s.slot.has_frame())
    threading.Event().wait(1.0)  # nobody takes: the streaming thread is blocked in the hand-over
    assert SessionState.RECOVERING not in states(s)  # waiting for the consumer is not a stall
    assert s.state == SessionState.STREAMING
    assert s.stop(3)
    assert s.state == SessionState.STOPPED


class _FailingSlot(LatestFrameSlot):
    """A consumer whose hand-over raises at its `at`-th frame (a bug, or a transient failure),
    and with `every` at each frame from then on."""

    def __init__(self, at: int, *, every: bool = False) -> None:
        super().__init__()
        self._at = at
        self._every = every
        self.offered = 0

    def put(self, frame) -> None:
        self.offered += 1
        if self.offered == self._at or (self._every and self.offered > self._at):
            raise RuntimeError("consumer failed")
        super().put(frame)


def test_one_failing_hand_over_on_a_live_camera_reconnects_and_seq_continues(sessions, caplog):
    caplog.set_level("INFO", logger="jetsentry.capture")
    slot = _FailingSlot(at=5)
    s = sessions("test://ball?width=160&height=120&fps=30", slot=slot)
    s.start()
    assert wait_until(lambda: s.stats.reconnects == 1 and s.state == SessionState.STREAMING)
    assert states(s) == [SessionState.IDLE, SessionState.CONNECTING, SessionState.STREAMING,
                         SessionState.RECOVERING, SessionState.CONNECTING, SessionState.STREAMING]
    recovering = s.stats.transitions[3]
    assert "frame hand-over failed: RuntimeError('consumer failed')" in recovering.reason
    assert len(s.stats.retries) == 1
    assert wait_until(s.slot.has_frame)
    assert s.slot.take().seq >= 5  # the failed frame was seq 4: numbering goes on
    tracebacks = [r for r in caplog.records if r.exc_info and "hand-over failed" in r.getMessage()]
    assert len(tracebacks) == 1  # the cause is logged once, with its traceback


def test_a_hand_over_failing_on_every_frame_keeps_backing_off_and_warns_once(sessions, caplog):
    caplog.set_level("DEBUG", logger="jetsentry.capture")
    slot = _FailingSlot(at=1, every=True)
    s = sessions("test://ball?width=160&height=120&fps=30", slot=slot)
    s.start()
    assert wait_until(lambda: len(s.stats.retries) >= 4)
    ceilings = [r.ceiling_s for r in s.stats.retries]
    assert ceilings == sorted(ceilings) and ceilings[-1] > ceilings[0]  # not reset by the frames that decoded
    assert s.state != SessionState.FAILED
    warnings = [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    assert len(warnings) == 2, [r.getMessage() for r in warnings]  # the error once, its traceback once
