"""Damaged video files: decode problems counted per camera, short passes seen, nothing silent.

The files are real encodes (tests/support/videos.py), damaged the two common ways: cut
short (an interrupted download or recording) and 8 KB of garbage over the middle.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from jetsentry.capture.problem_log import RateLimitedLog
from jetsentry.capture.reader import VideoFileReader
from jetsentry.capture.state import SessionState
from tests.capture.conftest import wait_until
from tests.support import videos

DECLARED = 150  # frames encoded into each clip (5 s at 30 fps)


@pytest.fixture(scope="module")
def damaged(tmp_path_factory) -> SimpleNamespace:
    d = tmp_path_factory.mktemp("damaged")
    mp4 = videos.make_video(d / "clip.mp4", frames=DECLARED, fps=30, gop=30, faststart=True)
    h264 = videos.make_video(d / "clip.h264", frames=DECLARED, fps=30, gop=30)
    mkv = videos.make_video(d / "clip.mkv", frames=30, fps=30)
    return SimpleNamespace(
        mp4=mp4,
        h264=h264,
        mp4_cut=videos.truncate_file(mp4, d / "cut.mp4", 0.1),
        mp4_garbage=videos.overwrite_middle(mp4, d / "garbage-in-middle.mp4"),
        h264_cut=videos.truncate_file(h264, d / "cut.h264", 0.1),
        h264_garbage=videos.overwrite_middle(h264, d / "garbage-in-middle.h264"),
        # The header and part of the first frame: it opens, and no frame decodes.
        mkv_header_only=videos.truncate_file(mkv, d / "header-only.mkv", 0.01),
    )


def read_all(path) -> VideoFileReader:
    reader = VideoFileReader(path)
    assert sum(1 for _ in reader) == reader.decoded
    return reader


@pytest.mark.parametrize(("clip", "declared"), [("mp4", DECLARED), ("h264", None)])
def test_intact_files_decode_every_frame_without_problems(damaged, clip, declared):
    reader = read_all(getattr(damaged, clip))
    assert reader.decoded == DECLARED
    assert reader.info.frame_count == declared  # a raw stream declares no count
    assert reader.decode_errors == 0 and reader.latest_decode_error is None


@pytest.mark.parametrize("clip", ["mp4_cut", "mp4_garbage"])
def test_a_damaged_mp4_decodes_fewer_frames_than_it_declares(damaged, clip):
    reader = read_all(getattr(damaged, clip))
    assert reader.info.frame_count == DECLARED
    assert 0 < reader.decoded < DECLARED


def test_garbage_inside_an_mp4_is_counted_as_decode_errors(damaged):
    reader = read_all(damaged.mp4_garbage)
    assert reader.decode_errors >= 1
    assert reader.latest_decode_error.startswith("libav: ")  # FFmpeg's own words


@pytest.mark.parametrize("clip", ["h264_cut", "h264_garbage"])
def test_a_damaged_raw_stream_shows_only_in_the_decoder_errors(damaged, clip):
    reader = read_all(getattr(damaged, clip))
    assert reader.info.frame_count is None
    assert reader.decoded < DECLARED
    assert reader.decode_errors >= 1
    assert reader.latest_decode_error.startswith("libav: ")


def test_counting_ffmpeg_errors_keeps_gstreamer_quiet_on_stderr(damaged):
    code = ("import sys; from jetsentry.capture.reader import VideoFileReader; "
            "r = VideoFileReader(sys.argv[1]); n = sum(1 for _ in r); print(r.decode_errors)")
    env = {k: v for k, v in os.environ.items() if k != "GST_DEBUG"}
    result = subprocess.run([sys.executable, "-c", code, str(damaged.h264_garbage)], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) >= 1
    assert "error while decoding" not in result.stderr and "libav" not in result.stderr


@pytest.mark.parametrize("clip", ["mp4_cut", "h264_garbage"])
def test_a_looping_damaged_file_keeps_streaming_counted_and_logged_once(sessions, damaged, clip, caplog):
    caplog.set_level(logging.INFO, logger="jetsentry.capture")
    path = getattr(damaged, clip)
    per_pass = read_all(path).decoded
    s = sessions(str(path), on_eos="loop", realtime=False, problem_log_interval_s=3600)
    s.start()
    taken = 0
    while s.stats.loops < 3 and s.state != SessionState.FAILED:  # realtime: false waits for every take
        assert wait_until(s.slot.has_frame, timeout_s=15)
        s.slot.take()
        taken += 1
    assert s.stop()
    stats = s.stats
    assert stats.loops >= 3 and SessionState.FAILED not in [c.state for c in stats.transitions]
    assert stats.decode_errors >= stats.loops  # every pass met at least one problem
    if clip == "mp4_cut":
        assert stats.frames_lost == stats.loops * (DECLARED - per_pass)
    else:
        assert stats.frames_lost == 0  # a raw stream declares nothing to compare with
    problems = [r for r in caplog.records if r.levelno == logging.WARNING and path.name in r.getMessage()]
    assert len(problems) == 1, [r.getMessage() for r in problems]  # the first in full; the rest wait for a summary


def test_problems_are_counted_for_the_camera_that_met_them(sessions, damaged):
    bad = sessions(str(damaged.h264_garbage), camera_id="bad", on_eos="loop")
    good = sessions(str(damaged.h264), camera_id="good", on_eos="loop")
    bad.start()
    good.start()
    assert wait_until(lambda: bad.stats.decode_errors >= 2 and good.stats.loops >= 1, timeout_s=30)
    assert good.stats.decode_errors == 0


@pytest.mark.parametrize("on_eos", ["loop", "stop"])
def test_a_file_pass_without_a_single_frame_fails_instead_of_spinning(sessions, damaged, on_eos):
    s = sessions(str(damaged.mkv_header_only), on_eos=on_eos)
    s.start()
    assert s.wait_for_state(SessionState.FAILED, 15)
    assert s.last_error.startswith(f"no frame decoded in a whole pass of {damaged.mkv_header_only}")
    assert s.stats.reconnects == 0 and s.stats.loops == 0


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_limited_log_writes_the_first_in_full_then_one_summary_per_interval(caplog):
    caplog.set_level(logging.WARNING, logger="test.problems")
    clock = _Clock()
    problems = RateLimitedLog(logging.getLogger("test.problems"), "camera c: ", what="decode problems",
                              interval_s=10.0, clock=clock)

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records]

    problems.event("e1")
    for i in range(2, 7):
        clock.now += 1
        problems.event(f"e{i}")
    assert lines() == ["camera c: e1"] and problems.pending == 5
    clock.now = 109.9
    problems.tick()
    assert len(lines()) == 1
    clock.now = 110.0
    problems.tick()
    assert lines()[1] == "camera c: 5 more decode problems in the last 10 s (latest: e6)"
    assert problems.pending == 0
    problems.event("e7", count=3)  # within the next interval: counted, not written
    clock.now = 125.0
    problems.tick()
    assert lines()[2] == "camera c: 3 more decode problems in the last 15 s (latest: e7)"
    clock.now = 140.0  # a quiet interval later, the next one is in full again
    problems.event("e8")
    assert lines()[3:] == ["camera c: e8"]
