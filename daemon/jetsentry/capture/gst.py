"""GStreamer import and one-time initialisation (PyGObject)."""

from __future__ import annotations

import threading

from jetsentry.capture.errors import GStreamerMissing
from jetsentry.optional import GSTREAMER, require

_init_lock = threading.Lock()
_Gst = None  # the initialised module, once gst() succeeded


def gst():
    """Return the initialised `Gst` module; GStreamerMissing (with the apt command) without PyGObject."""
    global _Gst
    if _Gst is not None:
        return _Gst
    require("video capture", GSTREAMER, error=GStreamerMissing)
    from gi.repository import Gst

    with _init_lock:
        if _Gst is None:
            Gst.init(None)
            _Gst = Gst
    return _Gst


def gst_video():
    gst()
    from gi.repository import GstVideo

    return GstVideo


def gst_pbutils():
    gst()
    from gi.repository import GstPbutils

    return GstPbutils
