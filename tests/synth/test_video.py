"""The scene video is real H.264 in MP4: GStreamer decodes it to the right frames."""

from __future__ import annotations

import numpy as np
import pytest

from jetsentry.synth import generate_scene
from jetsentry.synth.scene import SceneRenderer

gi = pytest.importorskip("gi", reason="PyGObject (GStreamer) is needed to decode the video")


def _decode(path):
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst

    Gst.init(None)
    pipe = Gst.parse_launch(
        f'filesrc location="{path}" ! qtdemux ! h264parse ! avdec_h264 ! videoconvert '
        "! video/x-raw,format=BGR ! appsink name=sink sync=false emit-signals=false")
    sink = pipe.get_by_name("sink")
    pipe.set_state(Gst.State.PLAYING)
    frames = []
    while True:
        sample = sink.emit("try-pull-sample", 10 * Gst.SECOND)
        if sample is None:
            break
        s = sample.get_caps().get_structure(0)
        w, h = s.get_value("width"), s.get_value("height")
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        frames.append(np.frombuffer(info.data, np.uint8).reshape(h, w, 3).copy())
        buf.unmap(info)
    pipe.set_state(Gst.State.NULL)
    return frames


def test_video_decodes_to_rendered_frames(tmp_path):
    r = generate_scene(9, tmp_path / "scene_0000", frames=24, width=320, height=192, fps=15)
    frames = _decode(r.out_dir / "video.mp4")
    assert len(frames) == 24
    assert frames[0].shape == (192, 320, 3)
    renderer = SceneRenderer(9, 320, 192, 24)
    for i in range(24):
        _, img = renderer.frame(i, render=True)
        if i in (0, 23):
            mse = np.mean((img.astype(np.float64) - frames[i]) ** 2)
            assert 10 * np.log10(255**2 / mse) > 30  # codec loss only
