"""GStreamer import and one-time initialisation (PyGObject)."""

from __future__ import annotations

import threading

from jetsentry.capture.errors import GStreamerMissing

_init_lock = threading.Lock()
_initialised = False


def gst():
    """Return the initialised `Gst` module; a clear error when PyGObject/GStreamer is missing."""
    global _initialised
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstVideo", "1.0")
        gi.require_version("GstPbutils", "1.0")
        from gi.repository import Gst
    except (ImportError, ValueError) as exc:
        raise GStreamerMissing(
            "GStreamer for Python is not available (install python3-gi, gir1.2-gstreamer-1.0 "
            f"and gstreamer1.0-plugins-base): {exc}"
        ) from exc
    with _init_lock:
        if not _initialised:
            Gst.init(None)
            _initialised = True
    return Gst


def gst_video():
    gst()
    from gi.repository import GstVideo

    return GstVideo


def gst_pbutils():
    gst()
    from gi.repository import GstPbutils

    return GstPbutils
