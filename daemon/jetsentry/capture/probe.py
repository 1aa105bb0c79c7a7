"""What is inside a video file: container, codec, size, frame rate.

The container comes from GStreamer's typefinders run on the file's first bytes; the
codec, size and frame rate from prerolling `filesrc ! demuxer ! fakesink` (and the
codec's parser where the demuxer does not say).  GstPbutils' Discoverer and parsebin
were tried first: in GStreamer 1.22 both sometimes wait out their whole timeout on a
truncated MP4.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from jetsentry.capture.errors import BadVideoFile, FileNotFound
from jetsentry.capture.gst import gst, gst_base
from jetsentry.capture.pipeline import DEMUXERS, quote

PROBE_TIMEOUT_S = 10.0
TYPEFIND_BYTES = 256 * 1024
_CODECS = {"video/x-h264": "h264", "video/x-h265": "h265"}
# Links only H.264/H.265 streams of a demuxer to the probe's fakesink.
_ACCEPTED = 'capsfilter caps="video/x-h264;video/x-h265"'


@dataclass(frozen=True)
class VideoFileInfo:
    path: str
    container: str  # caps name of the container, or "raw" for an elementary stream
    codec: str  # "h264" | "h265"
    width: int
    height: int
    fps: float | None  # None when the file does not say
    duration_s: float | None  # raw streams: GStreamer's estimate from the bitrate

    @property
    def frame_count(self) -> int | None:
        """The frames the container declares (duration x frame rate); None when unknown.

        A raw H.264/H.265 stream declares neither (its duration is estimated from the
        bytes read), nor does a container without a duration or a frame rate.
        """
        if self.container == "raw" or not self.duration_s or not self.fps:
            return None
        return round(self.duration_s * self.fps)


def check_file(path: str) -> None:
    """FileNotFound naming the path when it is missing, not a file, or unreadable."""
    p = Path(path)
    if not p.exists():
        raise FileNotFound(f"file not found: {path}")
    if not p.is_file():
        raise FileNotFound(f"not a regular file: {path}")
    if not os.access(p, os.R_OK):
        raise FileNotFound(f"file not readable: {path}")


def probe_video_file(path: str, timeout_s: float = PROBE_TIMEOUT_S) -> VideoFileInfo:
    """Probe `path`; raises FileNotFound or BadVideoFile (not a video, unsupported codec)."""
    check_file(path)
    container = _container_of(path)
    if container in _CODECS:
        codec, demuxer = _CODECS[container], None
        container = "raw"
    elif container in DEMUXERS:
        codec, demuxer = None, DEMUXERS[container]
    else:
        raise BadVideoFile(f"unsupported container in {path}: {container} (mp4/mov, mkv, mpeg-ts or raw H.264/H.265)")
    if codec is None:
        # Stage 1: which codec the demuxer finds.
        caps, duration_s = _preroll(path, f"{demuxer} name=demux ! {_ACCEPTED}", timeout_s)
        codec = _CODECS[caps.get_structure(0).get_name()]
        video = caps.get_structure(0)
        if video.has_field("width") and video.has_field("framerate"):
            return _info(path, container, codec, video, duration_s)
    # Stage 2 (raw streams, or a demuxer that does not state size and rate): the parser does.
    demux = f"{demuxer} name=demux ! " if demuxer else ""
    caps, duration_s = _preroll(path, f"{demux}{codec}parse", timeout_s)
    return _info(path, container, codec, caps.get_structure(0), duration_s)


def _info(path: str, container: str, codec: str, video, duration_s: float | None) -> VideoFileInfo:
    ok_w, width = video.get_int("width")
    ok_h, height = video.get_int("height")
    ok_f, num, den = video.get_fraction("framerate")
    return VideoFileInfo(
        path=str(path),
        container=container,
        codec=codec,
        width=width if ok_w else 0,
        height=height if ok_h else 0,
        fps=num / den if ok_f and num > 0 and den > 0 else None,
        duration_s=duration_s,
    )


def _container_of(path: str) -> str:
    """The caps name GStreamer's typefinders give the file's first bytes."""
    GstBase = gst_base()  # noqa: N806 - the module's own name
    with open(path, "rb") as f:
        head = f.read(TYPEFIND_BYTES)
    caps, _probability = GstBase.type_find_helper_for_data(None, head)
    if caps is None or caps.is_empty():
        raise BadVideoFile(f"not a video / cannot decode: {path}: unrecognised data")
    name = caps.get_structure(0).get_name()
    if not (name.startswith("video/") or name == "application/x-3gp"):
        raise BadVideoFile(f"not a video / cannot decode: {path}: looks like {name}")
    return name


def _preroll(path: str, middle: str, timeout_s: float):
    """Preroll `filesrc ! middle ! fakesink`; the sink's caps and the duration if known.

    An explicit demuxer is used, not parsebin: in GStreamer 1.22 parsebin sometimes
    swallows qtdemux's error on a truncated MP4, and the probe would wait out its timeout.
    """
    Gst = gst()
    pipeline = Gst.parse_launch(f"filesrc location={quote(str(path))} ! {middle} ! fakesink name=sink sync=false")
    exposed: list[str] = []  # caps names of the demuxer's streams (appended on a streaming thread)
    demux = pipeline.get_by_name("demux")
    if demux is not None:
        demux.connect("pad-added", lambda _element, pad: exposed.append(_caps_name(pad)))
    try:
        pipeline.set_state(Gst.State.PAUSED)
        # Poll the bus, not get_state(): an error during preroll can leave get_state waiting.
        msg = pipeline.get_bus().timed_pop_filtered(
            int(timeout_s * Gst.SECOND), Gst.MessageType.ERROR | Gst.MessageType.ASYNC_DONE
        )
        if msg is None:
            raise BadVideoFile(f"not a video / cannot decode: {path}: no video stream found within {timeout_s:g} s")
        if msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            if debug and "not-linked" in debug:
                raise BadVideoFile(_unsupported(path, exposed))
            raise BadVideoFile(f"not a video / cannot decode: {path}: {err.message}")
        caps = pipeline.get_by_name("sink").get_static_pad("sink").get_current_caps()
        if caps is None or caps.get_structure(0).get_name() not in _CODECS:
            raise BadVideoFile(_unsupported(path, exposed))
        ok, duration = pipeline.query_duration(Gst.Format.TIME)
        return caps, (duration / Gst.SECOND if ok and duration > 0 else None)
    finally:
        pipeline.set_state(Gst.State.NULL)


def _caps_name(pad) -> str:
    caps = pad.get_current_caps() or pad.query_caps(None)
    return caps.get_structure(0).get_name() if caps is not None and not caps.is_empty() else "?"


def _unsupported(path: str, exposed: list[str]) -> str:
    found = ", ".join(sorted(set(exposed))) or "no streams"
    return f"no H.264/H.265 video stream in {path} (found: {found}); only H.264 and H.265 are supported"
