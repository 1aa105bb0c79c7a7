"""A camera session's heartbeat (health/heartbeat.py): beaten while it streams, while it waits
out a reconnect backoff, and no longer required once its thread has ended."""

from __future__ import annotations

import random
import time

from jetsentry.capture.state import SessionState
from jetsentry.config.models import CaptureConfig
from jetsentry.health.heartbeat import WAIT_SLICE_S, Heartbeats
from tests.capture.conftest import wait_until

# A backoff of at least 5 s (random.Random(2) draws 5.74 of 6): far longer than one slice.
LONG_BACKOFF = CaptureConfig(backoff_base_s=6.0, backoff_cap_s=6.0, stall_timeout_s=2.0, connect_timeout_s=5.0)
DEADLINE_S = WAIT_SLICE_S + 1.5  # one slice, and room for a loaded machine


def never_stale_for(heartbeats: Heartbeats, seconds: float) -> list:
    """Every stale_stages() answer seen while polling for `seconds`."""
    seen = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        seen += heartbeats.stale_stages()
        time.sleep(0.05)
    return seen


def test_a_camera_waiting_out_a_long_backoff_still_beats(sessions):
    s = sessions("v4l2:///dev/video99", capture=LONG_BACKOFF, rng=random.Random(2))
    heartbeats = Heartbeats()
    heartbeats.add(s.heartbeat, DEADLINE_S)
    s.start()
    assert wait_until(lambda: s.stats.retries)
    assert s.stats.retries[0].delay_s > 5 and s.state == SessionState.RECOVERING
    assert never_stale_for(heartbeats, 3.5) == []  # a reconnecting camera is not wedged
    assert s.stats.reconnects == 0  # still in the first backoff


def test_a_streaming_camera_beats_and_one_at_end_of_file_is_no_longer_required(sessions, clips):
    s = sessions(str(clips.mp4), on_eos="stop")
    heartbeats = Heartbeats()
    heartbeats.add(s.heartbeat, 0.5)
    assert not s.heartbeat.active  # not yet started: not required
    s.start()
    assert s.heartbeat.active
    assert wait_until(lambda: s.state == SessionState.STOPPED)
    assert not s.heartbeat.active
    time.sleep(0.7)  # past its deadline: a stopped camera is not wedged
    assert heartbeats.stale_stages() == []
    assert heartbeats.stages()[0].age_s > 0.5


def test_a_failed_camera_is_no_longer_required(sessions, clips):
    s = sessions(str(clips.garbage))
    s.start()
    assert wait_until(lambda: s.state == SessionState.FAILED)
    assert wait_until(lambda: not s.heartbeat.active)
