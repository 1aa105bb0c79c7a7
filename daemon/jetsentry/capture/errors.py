"""Capture errors, and the classifier that maps GStreamer error messages to them."""

from __future__ import annotations


class CaptureError(Exception):
    """Base of every capture failure; the message names what is wrong."""


class SourceNotFound(CaptureError):
    """The file, device or RTSP path does not exist."""


class ConnectionFailed(CaptureError):
    """The source could not be reached, stopped sending, or the connection broke."""


class AuthFailed(CaptureError):
    """The source refused our credentials."""


class EndOfStream(CaptureError):
    """A source that should run forever ended."""


class DecodeError(CaptureError):
    """The data is not a supported video or could not be demuxed/decoded."""


class ElementMissing(CaptureError):
    """A GStreamer element the pipeline needs is not installed (a configuration problem)."""


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
    matters because the same GStreamer error means different things for a file and a
    network camera.
    """
    detail = f"{element}: {message}"
    last = _last_line(debug)
    if last:
        detail += f"; {last}"
    text = f"{message} {debug or ''}".lower()
    if "resource" in domain:
        if code == "not-authorized" or "unauthorized" in text or " 401" in text:
            return AuthFailed(f"authentication failed for {source} ({detail})")
        if code == "not-found" or " 404" in text:
            return SourceNotFound(f"source not found: {source} ({detail})")
        if source_kind == "rtsp" and any(word in text for word in _CONNECT_WORDS):
            return ConnectionFailed(f"RTSP connection refused or lost: {source} ({detail})")
        if code in _RESOURCE_READ:
            if source_kind == "file":
                return DecodeError(f"cannot read file {source} ({detail})")
            return ConnectionFailed(f"cannot read from {source} ({detail})")
    if "stream" in domain and code in _STREAM_DECODE:
        return DecodeError(f"not a video / cannot decode: {source} ({detail})")
    if "core" in domain and code == "missing-plugin":
        return ElementMissing(f"missing GStreamer plugin for {source} ({detail})")
    if source_kind == "file":
        return DecodeError(f"cannot decode {source} ({detail})")
    return ConnectionFailed(f"stream from {source} failed ({detail})")


def _last_line(text: str | None) -> str:
    """The last line of GStreamer debug text: the reason, without source-file positions."""
    if not text:
        return ""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""
