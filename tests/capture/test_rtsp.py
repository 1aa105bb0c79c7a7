"""CameraSession against a real RTSP server (gst-rtsp-server in a subprocess)."""

from __future__ import annotations

import random

import pytest

from jetsentry.capture.state import SessionState
from jetsentry.config.models import CaptureConfig, RtspConfig
from tests.capture.conftest import FAST, wait_until
from tests.support.rtsp_server import RtspServerProcess, free_port

R = SessionState


def newest_seq(session) -> int:
    """Wait for a frame in the session's slot and return its seq."""
    assert wait_until(session.slot.has_frame)
    return session.slot.take().seq


def test_rtsp_loss_backoff_and_recovery_while_another_camera_runs(rtsp_server, sessions):
    cap = CaptureConfig(backoff_base_s=0.1, backoff_cap_s=0.8, stall_timeout_s=2.0, connect_timeout_s=5.0)
    cam = sessions(rtsp_server.url, camera_id="rtsp", capture=cap, rng=random.Random(1234))
    other = sessions("test://ball?width=160&height=120&fps=15", camera_id="other")
    cam.start()
    other.start()
    assert cam.wait_for_state(R.STREAMING, 15)
    assert other.wait_for_state(R.STREAMING, 15)
    seq_before = newest_seq(cam)

    rtsp_server.kill()
    assert cam.wait_for_state(R.RECOVERING, 10)
    other_frames_at_loss = other.stats.frames
    # Enough failed reconnects for the backoff ceiling to reach its cap.
    assert wait_until(lambda: len(cam.stats.retries) >= 6, timeout_s=30)
    assert cam.state in (R.RECOVERING, R.CONNECTING)
    assert "connection refused" in cam.last_error.lower() or "ended the stream" in cam.last_error

    rtsp_server.start()
    assert wait_until(lambda: cam.state == R.STREAMING, timeout_s=30)
    assert newest_seq(cam) > seq_before  # numbering continues across the reconnect

    retries = cam.stats.retries
    ceilings = [r.ceiling_s for r in retries]
    delays = [r.delay_s for r in retries]
    assert ceilings == sorted(ceilings)  # the ceiling grows ...
    assert ceilings[0] == pytest.approx(0.1) and ceilings[-1] == pytest.approx(0.8)  # ... up to the cap
    assert all(0 <= d <= c <= cap.backoff_cap_s for d, c in zip(delays, ceilings))
    assert len(set(delays)) == len(delays) and any(d < 0.9 * c for d, c in zip(delays, ceilings))  # jittered
    # Each RECOVERING -> CONNECTING gap lasted at least the delay drawn for it.
    changes = cam.stats.transitions
    waits = [b.at - a.at for a, b in zip(changes, changes[1:]) if a.state == R.RECOVERING and b.state == R.CONNECTING]
    assert len(waits) >= len(retries)
    assert all(w >= d - 0.01 for w, d in zip(waits[-len(retries):], delays))
    assert cam.stats.reconnects >= len(retries)

    # The other camera never noticed.
    assert other.stats.frames > other_frames_at_loss + 10
    assert [c.state for c in other.stats.transitions] == [R.IDLE, R.CONNECTING, R.STREAMING]


def test_stalled_server_means_recovering_then_back(rtsp_server, sessions):
    cap = CaptureConfig(backoff_base_s=0.1, backoff_cap_s=0.4, stall_timeout_s=1.0, connect_timeout_s=1.5)
    cam = sessions(rtsp_server.url, capture=cap)
    cam.start()
    assert cam.wait_for_state(R.STREAMING, 15)
    rtsp_server.freeze()  # TCP stays open, no more packets
    try:
        assert cam.wait_for_state(R.RECOVERING, 10)
        assert cam.last_error.startswith("stalled: no frame from")
        # A frozen server accepts TCP but never answers: the connect timeout fires.
        assert wait_until(lambda: "connect timeout" in (cam.last_error or ""), timeout_s=15)
    finally:
        rtsp_server.thaw()
    assert wait_until(lambda: cam.state == R.STREAMING, timeout_s=30)


def test_no_server_is_connection_refused_and_retried(sessions):
    cam = sessions(f"rtsp://127.0.0.1:{free_port()}/cam", rng=random.Random(5))
    cam.start()
    assert wait_until(lambda: len(cam.stats.retries) >= 2)
    assert cam.state in (R.RECOVERING, R.CONNECTING)
    assert "RTSP connection refused" in cam.last_error


@pytest.fixture
def auth_server():
    server = RtspServerProcess("--fps", "15", "--user", "viewer", "--password", "s3cret")
    server.start()
    yield server
    server.stop()


def test_rtsp_credentials_from_config(auth_server, sessions, caplog):
    caplog.set_level("DEBUG", logger="jetsentry.capture")
    rtsp = RtspConfig(username="viewer", password="s3cret")
    cam = sessions(auth_server.url, rtsp=rtsp)
    cam.start()
    assert cam.wait_for_state(R.STREAMING, 15)
    assert "s3cret" not in caplog.text


def test_rtsp_wrong_password_is_an_auth_error_and_never_logged(auth_server, sessions, caplog):
    caplog.set_level("DEBUG", logger="jetsentry.capture")
    url = auth_server.url.replace("rtsp://", "rtsp://viewer:wrong-pw@")
    cam = sessions(url)
    cam.start()
    assert wait_until(lambda: cam.stats.retries != ())
    assert cam.last_error.startswith("authentication failed")
    assert "wrong-pw" not in caplog.text and "wrong-pw" not in cam.last_error
    assert "viewer:***@" in caplog.text  # the masked URL


@pytest.fixture
def h265_server():
    server = RtspServerProcess("--fps", "10", "--codec", "h265")
    server.start()
    yield server
    server.stop()


def test_h265_camera_is_decoded_on_the_first_connection(h265_server, sessions, caplog):
    caplog.set_level("INFO", logger="jetsentry.capture")
    cam = sessions(h265_server.url, capture=FAST)
    cam.start()
    assert wait_until(lambda: cam.state == R.STREAMING, timeout_s=20)
    assert "RTSP video is H265, decoded by" in caplog.text
    assert wait_until(cam.slot.has_frame)
    assert cam.slot.take().image.shape == (240, 320, 3)
    assert [c.state for c in cam.stats.transitions][:3] == [R.IDLE, R.CONNECTING, R.STREAMING]


def test_h265_camera_with_an_h264_only_decoder_is_a_clear_error(h265_server, sessions):
    cam = sessions(h265_server.url, capture=FAST, decoder="avdec_h264")
    cam.start()
    assert wait_until(lambda: cam.stats.retries != ())
    assert "is H265; this camera can decode only H264 (avdec_h264)" in cam.last_error


def test_udp_transport(rtsp_server, sessions):
    cam = sessions(rtsp_server.url, rtsp=RtspConfig(transport="udp", latency_ms=50))
    cam.start()
    assert cam.wait_for_state(R.STREAMING, 15)
    assert wait_until(cam.slot.has_frame)


def test_stop_interrupts_a_long_backoff(sessions):
    slow = CaptureConfig(backoff_base_s=60, backoff_cap_s=600)
    cam = sessions(f"rtsp://127.0.0.1:{free_port()}/cam", capture=slow)
    cam.start()
    assert cam.wait_for_state(R.RECOVERING, 10)
    assert cam.stop(timeout_s=2.0)
    assert cam.state == R.STOPPED


def test_a_pipeline_gstreamer_refuses_to_start_is_retried(rtsp_server, sessions):
    from tests.capture import refusing_decoder

    cam = sessions(rtsp_server.url, decoder=refusing_decoder.install(refusals=1))
    cam.start()
    assert wait_until(lambda: cam.state == R.STREAMING, timeout_s=30)
    changes = cam.stats.transitions
    assert [c.state for c in changes] == [R.IDLE, R.CONNECTING, R.RECOVERING, R.CONNECTING, R.STREAMING]
    assert "GStreamer refused to start the pipeline" in changes[2].reason
    assert cam.stats.reconnects == 1
    assert wait_until(cam.slot.has_frame)
