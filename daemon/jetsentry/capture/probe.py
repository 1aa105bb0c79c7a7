"""What is inside a video file: container, codec, size, frame rate.

The container comes from GStreamer's typefinders run on the file's first bytes; the
codec, size and frame rate from prerolling `filesrc ! parsebin` into a fakesink that
accepts only H.264/H.265.  (GstPbutils' Discoverer was tried first: in GStreamer 1.22
it sometimes waits out its whole timeout on a truncated MP4.)
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from jetsentry.capture.errors import DecodeError, SourceNotFound
from jetsentry.capture.gst import gst
from jetsentry.capture.pipeline import DEMUXERS, quote

PROBE_TIMEOUT_S = 10.0
TYPEFIND_BYTES = 256 * 1024
_POLL_S = 0.05
# After a stream we cannot decode shows up, how long to wait for one we can.
_UNSUPPORTED_GRACE_S = 1.0
_CODECS = {"video/x-h264": "h264", "video/x-h265": "h265"}


@dataclass(frozen=True)
class VideoFileInfo:
    path: str
    container: str  # caps name of the container, or "raw" for an elementary stream
    codec: str  # "h264" | "h265"
    width: int
    height: int
    fps: float | None  # None when the file does not say
    duration_s: float | None


def check_file(path: str) -> None:
    """SourceNotFound naming the path when it is missing, not a file, or unreadable."""
    p = Path(path)
    if not p.exists():
        raise SourceNotFound(f"file not found: {path}")
    if not p.is_file():
        raise SourceNotFound(f"not a regular file: {path}")
    if not os.access(p, os.R_OK):
        raise SourceNotFound(f"file not readable: {path}")


def probe_video_file(path: str, timeout_s: float = PROBE_TIMEOUT_S) -> VideoFileInfo:
    """Probe `path`; raises SourceNotFound or DecodeError (not a video, unsupported codec)."""
    check_file(path)
    container = _container_of(path)
    caps, duration_s = _preroll_video_caps(path, timeout_s)
    video = caps.get_structure(0)
    codec = _CODECS[video.get_name()]
    if container == video.get_name():
        container = "raw"
    elif container not in DEMUXERS:
        raise DecodeError(f"unsupported container in {path}: {container} (mp4/mov, mkv, mpeg-ts or raw)")
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
    gst()
    import gi

    gi.require_version("GstBase", "1.0")
    from gi.repository import GstBase

    with open(path, "rb") as f:
        head = f.read(TYPEFIND_BYTES)
    caps, _probability = GstBase.type_find_helper_for_data(None, head)
    if caps is None or caps.is_empty():
        raise DecodeError(f"not a video / cannot decode: {path}: unrecognised data")
    name = caps.get_structure(0).get_name()
    if not (name.startswith("video/") or name.startswith("application/x-3gp")):
        raise DecodeError(f"not a video / cannot decode: {path}: looks like {name}")
    return name


def _preroll_video_caps(path: str, timeout_s: float):
    """The parsed caps of the first H.264/H.265 stream, and the duration if known."""
    Gst = gst()
    pipeline = Gst.parse_launch(
        f'filesrc location={quote(str(path))} ! parsebin name=parse ! capsfilter caps="video/x-h264;video/x-h265" ! '
        "fakesink name=sink sync=false"
    )
    exposed: list[str] = []  # caps names of the streams parsebin found (appended on a streaming thread)
    pipeline.get_by_name("parse").connect("pad-added", lambda _bin, pad: exposed.append(_caps_name(pad)))
    bus = pipeline.get_bus()
    deadline = time.monotonic() + timeout_s
    other_video_since: float | None = None
    try:
        pipeline.set_state(Gst.State.PAUSED)
        # Poll the bus, not get_state(): an error during preroll can leave get_state waiting.
        while True:
            msg = bus.timed_pop_filtered(int(_POLL_S * Gst.SECOND), Gst.MessageType.ERROR | Gst.MessageType.ASYNC_DONE)
            now = time.monotonic()
            if msg is not None and msg.type == Gst.MessageType.ASYNC_DONE:
                break
            if msg is not None:
                err, debug = msg.parse_error()
                if debug and "not-linked" in debug:
                    raise DecodeError(_unsupported(path, exposed))
                raise DecodeError(f"not a video / cannot decode: {path}: {err.message}")
            # A stream we cannot decode never links, so no error comes: stop waiting soon.
            others = [name for name in exposed if name.startswith("video/") and name not in _CODECS]
            if others and other_video_since is None:
                other_video_since = now
            if other_video_since is not None and now - other_video_since > _UNSUPPORTED_GRACE_S:
                raise DecodeError(_unsupported(path, exposed))
            if now > deadline:
                raise DecodeError(f"not a video / cannot decode: {path}: no video stream found within {timeout_s:g} s")
        caps = pipeline.get_by_name("sink").get_static_pad("sink").get_current_caps()
        if caps is None:
            raise DecodeError(_unsupported(path, exposed))
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
