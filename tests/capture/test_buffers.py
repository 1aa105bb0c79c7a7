"""capture_ts from GStreamer buffers: sender NTP clock, file PTS, or arrival."""

from __future__ import annotations

import itertools

import pytest

from jetsentry.capture.buffers import NTP_TO_UNIX_S, CaptureClock
from jetsentry.capture.gst import gst


def buffer_at(pts_s: float | None, ntp_unix_s: float | None = None):
    Gst = gst()
    buf = Gst.Buffer.new()
    buf.pts = Gst.CLOCK_TIME_NONE if pts_s is None else int(pts_s * Gst.SECOND)
    if ntp_unix_s is not None:
        caps = Gst.Caps.from_string("timestamp/x-ntp, host=(string)127.0.0.1, port=(int)554")
        buf.add_reference_timestamp_meta(caps, int((ntp_unix_s + NTP_TO_UNIX_S) * Gst.SECOND), Gst.CLOCK_TIME_NONE)
    return buf


def ticking_wall(start: float = 1_700_000_000.0, step: float = 0.5):
    counter = itertools.count()
    return lambda: start + step * next(counter)


def test_rtcp_ntp_time_wins_over_everything():
    clock = CaptureClock(ticking_wall(), use_pts=True)
    assert clock.capture_ts(buffer_at(3.0, ntp_unix_s=1_650_000_000.25)) == pytest.approx(1_650_000_000.25, abs=1e-6)


def test_file_time_is_anchor_plus_pts_and_reanchors_on_loop():
    clock = CaptureClock(ticking_wall(1000.0), use_pts=True)
    first = clock.capture_ts(buffer_at(0.0))
    assert first == pytest.approx(1000.0)
    assert clock.capture_ts(buffer_at(1 / 30)) == pytest.approx(1000.0 + 1 / 30)
    assert clock.capture_ts(buffer_at(2.0)) == pytest.approx(1002.0)  # wall clock is not consulted again
    looped = clock.capture_ts(buffer_at(0.0))  # PTS went back: new anchor from the wall clock
    assert looped == pytest.approx(1000.5)


def test_live_source_without_sender_clock_uses_arrival_time():
    clock = CaptureClock(ticking_wall(50.0, step=1.0), use_pts=False)
    assert [clock.capture_ts(buffer_at(9.0)) for _ in range(3)] == [50.0, 51.0, 52.0]


def test_buffer_without_pts_uses_arrival_time():
    clock = CaptureClock(ticking_wall(7.0), use_pts=True)
    assert clock.capture_ts(buffer_at(None)) == 7.0
