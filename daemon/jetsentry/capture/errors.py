"""Capture errors, and the classifier that maps GStreamer error messages to them.

The type of an error says what went wrong; `FatalCaptureError` says that retrying
cannot help, and a session goes FAILED on it.  Every other error is retried with the
session's backoff: a live camera comes back, a file camera is reopened.

    CaptureError
    ├── ConnectionFailed        source unreachable, stalled, or the connection broke
    ├── AuthFailed              credentials refused
    ├── EndOfStream             a live source ended its stream
    ├── SourceNotFound          device or RTSP path absent (it may appear later)
    ├── DecodeError             a live stream could not be demuxed/decoded
    ├── HandoverFailed          converting or handing over one decoded frame failed
    ├── PipelineStartFailed     GStreamer refused to start, without saying why
    └── FatalCaptureError       retrying cannot help
        ├── GStreamerMissing    PyGObject/GStreamer not importable
        ├── ElementMissing      a GStreamer element is not installed
        ├── BadPipeline         the configuration gives a pipeline that cannot be built
        ├── FileNotFound        (also a SourceNotFound) the video file is not there
        └── BadVideoFile        (also a DecodeError) not a supported video, or its
                                data cannot be decoded: the same bytes fail again
"""

from __future__ import annotations

from jetsentry.optional import MissingDependencyError


class CaptureError(Exception):
    """Base of every capture failure; the message names what is wrong."""


class FatalCaptureError(CaptureError):
    """Retrying cannot help: a configuration or installation problem, or a file that
    cannot be read as a video."""


class ConnectionFailed(CaptureError):
    """The source could not be reached, stopped sending, or the connection broke."""


class AuthFailed(CaptureError):
    """The source refused our credentials."""


class EndOfStream(CaptureError):
    """A source that should run forever ended."""


class SourceNotFound(CaptureError):
    """The device or RTSP path does not exist (a camera may be plugged in later)."""


class DecodeError(CaptureError):
    """The data is not a supported video or could not be demuxed/decoded."""


class HandoverFailed(CaptureError):
    """Converting or handing over a decoded frame failed; `__cause__` is the exception."""


class PipelineStartFailed(CaptureError):
    """GStreamer refused to start the pipeline and posted no error saying why."""


class GStreamerMissing(FatalCaptureError, MissingDependencyError):
    """PyGObject or GStreamer cannot be imported; the message has the install command."""


class ElementMissing(FatalCaptureError):
    """A GStreamer element the pipeline needs is not installed (a configuration problem)."""


class BadPipeline(FatalCaptureError):
    """The configuration gives a pipeline GStreamer cannot build (bad source options)."""


class FileNotFound(SourceNotFound, FatalCaptureError):
    """A video file is missing, not a regular file, or unreadable."""


class BadVideoFile(DecodeError, FatalCaptureError):
    """A video file is not a supported video, or its data cannot be demuxed/decoded."""


# GStreamer error codes by enum nick (GST_RESOURCE_ERROR_*, GST_STREAM_ERROR_*).
_RESOURCE_READ = {"open-read", "open-read-write", "read", "write", "open-write", "seek", "busy", "sync", "failed"}
_STREAM_DECODE = {"decode", "demux", "type-not-found", "wrong-type", "codec-not-found", "format", "failed",
                  "not-implemented"}
_CONNECT_WORDS = ("refused", "could not connect", "failed to connect", "connection", "unreachable")


def classify_gst_error(
    domain: str, code: str, element: str, message: str, debug: str | None, *, source_kind: str, source: str
) -> CaptureError:
    """Map one GStreamer ERROR message to a CaptureError subclass with a clear message.

    `domain` is the GError domain string ("gst-resource-error-quark", ...), `code` the
    enum nick of its code ("not-found", "open-read", ...), `element` the element that
    posted it, `source` the (masked) source name for the message.  `source_kind`
    matters because the same GStreamer error means different things for a file (the
    same bytes fail again: fatal) and a network camera (the next connection may work).
    """
    detail = f"{element}: {message}"
    last = _last_line(debug)
    if last:
        detail += f"; {last}"
    text = f"{message} {debug or ''}".lower()
    is_file = source_kind == "file"
    not_found = FileNotFound if is_file else SourceNotFound
    undecodable = BadVideoFile if is_file else DecodeError
    if "resource" in domain:
        if code == "not-authorized" or "unauthorized" in text or " 401" in text:
            return AuthFailed(f"authentication failed for {source} ({detail})")
        if code == "not-found" or " 404" in text:
            return not_found(f"source not found: {source} ({detail})")
        if source_kind == "rtsp" and any(word in text for word in _CONNECT_WORDS):
            return ConnectionFailed(f"RTSP connection refused or lost: {source} ({detail})")
        if code in _RESOURCE_READ:
            if is_file:
                return BadVideoFile(f"cannot read file {source} ({detail})")
            return ConnectionFailed(f"cannot read from {source} ({detail})")
    if "stream" in domain and code in _STREAM_DECODE:
        return undecodable(f"not a video / cannot decode: {source} ({detail})")
    if "core" in domain and code == "missing-plugin":
        return ElementMissing(f"missing GStreamer plugin for {source} ({detail})")
    if is_file:
        return BadVideoFile(f"cannot decode {source} ({detail})")
    return ConnectionFailed(f"stream from {source} failed ({detail})")


def _last_line(text: str | None) -> str:
    """The last line of GStreamer debug text: the reason, without source-file positions."""
    if not text:
        return ""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
