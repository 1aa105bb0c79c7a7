"""The load-shedding cap on a real camera session (real GStreamer test source): set and lifted at run time.

Rates are judged against the frames the source decoded (its timestamps pace the cap), not
against wall time, so a loaded machine decoding slower does not change the outcome.
"""

from __future__ import annotations

import threading
import time

from jetsentry.capture import CameraSession, LatestFrameSlot
from jetsentry.capture.state import SessionState
from jetsentry.config.models import CameraConfig, CaptureConfig
from tests.support.broker import wait_until


def share_handed_over(session: CameraSession, decoded: int) -> tuple[float, int]:
    """Over the next `decoded` decoded frames: the share handed over, and the policy drops."""
    before = session.stats
    wait_until(lambda: session.stats.decoded - before.decoded >= decoded, 60, f"{decoded} decoded frames")
    after = session.stats
    return ((after.frames - before.frames) / (after.decoded - before.decoded),
            after.dropped_policy - before.dropped_policy)


def test_policy_cap_lowers_the_rate_counts_its_drops_and_lifts_without_reconnecting():
    camera = CameraConfig(id="cam", source="test://ball?width=160&height=120&fps=30")
    session = CameraSession(camera, CaptureConfig(), LatestFrameSlot(threading.Event()))
    session.start()
    try:
        assert session.wait_for_state(SessionState.STREAMING, 15)
        share, dropped = share_handed_over(session, 30)
        assert share > 0.9 and dropped == 0  # (a frame being handed over at a snapshot counts as decoded only)
        session.set_policy_fps_cap(5.0)  # 5 of every 30 frames of source time
        assert session.policy_fps_cap == 5.0
        time.sleep(0.1)
        before = session.stats
        share, dropped = share_handed_over(session, 90)
        assert 0.12 <= share <= 0.22 and dropped > 60
        stats = session.stats
        assert stats.dropped == stats.dropped_fps_cap + stats.dropped_slot + stats.dropped_policy
        # Every decoded frame is handed over or counted as dropped (one may be in between at the snapshot).
        assert stats.decoded - 1 <= stats.frames + stats.dropped_fps_cap + stats.dropped_policy <= stats.decoded
        assert stats.decoded > before.decoded
        session.set_policy_fps_cap(None)
        time.sleep(0.1)
        share, dropped = share_handed_over(session, 30)
        assert share > 0.9 and dropped == 0
        assert session.stats.reconnects == 0 and session.state is SessionState.STREAMING
    finally:
        session.stop()
