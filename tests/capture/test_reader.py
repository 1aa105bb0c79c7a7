"""VideoFileReader / iter_video_frames on real encoded files."""

from __future__ import annotations

import os

import numpy as np
import pytest

from jetsentry.capture.elements import has_element
from jetsentry.capture.errors import CaptureError, DecodeError, SourceNotFound
from jetsentry.capture.reader import VideoFileReader, iter_video_frames
from tests.capture.conftest import CLIP_FPS, CLIP_FRAMES, SOLID_BGR


@pytest.mark.parametrize(
    ("clip", "codec"),
    [("mp4", "h264"), ("mkv", "h264"), ("mov", "h264"), ("ts", "h265"), ("h264", "h264"), ("h265", "h265"),
     ("h265_mp4", "h265")],
)
def test_every_frame_in_order(clips, clip, codec):
    reader = VideoFileReader(getattr(clips, clip), camera_id="cam7")
    assert reader.info.codec == codec
    assert reader.fps == pytest.approx(CLIP_FPS)
    assert reader.decoder == f"avdec_{codec}" or reader.decoder.startswith("nv")
    frames = list(reader)
    assert len(frames) == CLIP_FRAMES
    assert [f.seq for f in frames] == list(range(CLIP_FRAMES))
    assert {f.camera_id for f in frames} == {"cam7"}
    for f in frames:
        assert f.image.shape == (240, 320, 3) and f.image.dtype == np.uint8
        assert f.image.flags["C_CONTIGUOUS"]
    # capture_ts follows the stream's PTS: one frame period apart.
    steps = np.diff([f.capture_ts for f in frames])
    assert steps == pytest.approx(np.full(CLIP_FRAMES - 1, 1 / CLIP_FPS), abs=1e-3)


def test_smpte_bars_decode_to_bgr_order(clips):
    first = next(iter_video_frames(clips.mp4))
    # The left bar is white-ish grey, the bar at 5/7 of the width is blue in SMPTE.
    top = first.image[10]
    blue_bar = top[int(320 * 6 / 7) + 5].astype(int)  # the 7th bar is blue
    assert blue_bar[0] > 150 and blue_bar[1] < 60 and blue_bar[2] < 60


def test_solid_colour_decodes_to_the_right_bgr(clips):
    frames = list(iter_video_frames(clips.solid))
    mean = np.stack([f.image for f in frames]).reshape(-1, 3).mean(axis=0)
    assert mean == pytest.approx(SOLID_BGR, abs=6)


def test_padded_rows_are_removed(clips):
    """322 px wide BGR rows are padded to 968 bytes by GStreamer; the image must not be skewed."""
    frames = list(iter_video_frames(clips.padded))
    image = frames[0].image
    assert image.shape == (242, 322, 3)
    # SMPTE bars are vertical: with a wrong stride each row would shift by 2 bytes.
    columns_equal = (image[20:150] == image[20]).all(axis=(0, 2))
    assert columns_equal.mean() > 0.97


def test_missing_file_names_the_path(clips):
    missing = clips.dir / "nowhere.mp4"
    with pytest.raises(SourceNotFound, match="nowhere.mp4"):
        iter_video_frames(missing)


def test_file_uri_is_accepted(clips):
    assert sum(1 for _ in iter_video_frames(f"file://{clips.mkv}")) == CLIP_FRAMES


def test_non_file_source_is_refused():
    with pytest.raises(CaptureError, match="file"):
        iter_video_frames("rtsp://user:pw@cam/x")


@pytest.mark.parametrize("clip", ["garbage", "text", "truncated"])
def test_not_a_video(clips, clip):
    path = getattr(clips, clip)
    with pytest.raises(DecodeError, match=f"not a video.*{path.name}"):
        iter_video_frames(path)


def test_decode_error_mid_stream_comes_after_the_good_frames(clips):
    got = []
    with pytest.raises(DecodeError, match="corrupt.h264") as info:
        for f in iter_video_frames(clips.corrupt):
            got.append(f.seq)
    assert 5 <= len(got) < CLIP_FRAMES
    assert got == list(range(len(got)))
    assert "not-negotiated" in str(info.value)


def test_breaking_out_early_tears_the_pipeline_down(clips, no_thread_leak):
    frames = iter_video_frames(clips.mp4)
    next(frames)
    frames.close()


@pytest.mark.skipif(not has_element("libde265dec"), reason="libde265dec (gstreamer1.0-plugins-bad) not installed")
def test_decoder_override_is_honoured(clips):
    reader = VideoFileReader(clips.h265, decoder="libde265dec")
    assert reader.decoder == "libde265dec"
    assert sum(1 for _ in reader) == CLIP_FRAMES


def test_unsupported_codec_is_named(clips):
    from tests.support.videos import make_video

    path = make_video(clips.dir / "vp8.mkv", codec="vp8", frames=5)
    with pytest.raises(DecodeError, match=r"no H.264/H.265 video stream in .*vp8.mkv \(found: video/x-vp8\)"):
        iter_video_frames(path)


def _thread_policies() -> dict[str, int]:
    policies = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as comm:
                policies[f"{comm.read().strip()}/{tid}"] = os.sched_getscheduler(int(tid))
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread ended meanwhile
    return policies


def _streaming_thread_policies(reader: VideoFileReader) -> dict[str, int]:
    before = set(_thread_policies())  # after probing, which uses threads of its own
    frames = iter(reader)
    next(frames)  # the pipeline is running: its streaming and decoder threads exist
    # GStreamer names streaming threads element:pad; the decoder's workers inherit the name.
    streaming = {name: policy for name, policy in _thread_policies().items() if name not in before and ":" in name}
    frames.close()
    assert streaming, "no GStreamer threads found"
    return streaming


def test_idle_priority_decodes_in_sched_idle_threads_and_leaves_later_pipelines_alone(clips):
    idle = _streaming_thread_policies(VideoFileReader(clips.mp4, idle_priority=True))
    assert set(idle.values()) == {os.SCHED_IDLE}, idle
    # GStreamer threads come from a shared pool: none of the idle ones may be reused here.
    normal = _streaming_thread_policies(VideoFileReader(clips.mp4))
    assert os.SCHED_IDLE not in normal.values(), normal
    assert os.sched_getscheduler(0) != os.SCHED_IDLE
