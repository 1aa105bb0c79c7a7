"""GStreamer import and one-time initialisation (PyGObject).

Every GStreamer namespace the daemon uses (Gst, GstVideo, GstPbutils, GstBase) is imported
once, under one lock, right after ``Gst.init``.  Imported for the first time from several
camera threads at once, they race inside GStreamer's type registration: two threads take the
same fundamental type id ("cannot register existing fundamental type 'GstFractionRange' (as
'GstBitmask')", then "g_once_init_leave: assertion 'result != 0' failed"), and the session
that lost the race hangs.
"""

from __future__ import annotations

import threading
from types import SimpleNamespace

from jetsentry.capture.errors import GStreamerMissing
from jetsentry.optional import GSTREAMER, require

# GStreamer's value types: fundamental GTypes, each given the next free fundamental id on first use.
_VALUE_TYPES = ("Fraction", "FractionRange", "IntRange", "Int64Range", "DoubleRange", "Bitmask", "FlagSet",
                "ValueArray", "ValueList")
_init_lock = threading.Lock()
_modules: SimpleNamespace | None = None  # Gst, GstVideo, GstPbutils, GstBase once initialised


def _load() -> SimpleNamespace:
    global _modules
    if _modules is not None:
        return _modules
    require("video capture", GSTREAMER, error=GStreamerMissing)
    with _init_lock:
        if _modules is None:
            import gi

            gi.require_version("GstBase", "1.0")
            from gi.repository import Gst

            Gst.init(None)
            from gi.repository import GstBase, GstPbutils, GstVideo

            for name in _VALUE_TYPES:  # registered on first use: make that here, not in a camera thread
                getattr(Gst, name, None)

            _modules = SimpleNamespace(Gst=Gst, GstVideo=GstVideo, GstPbutils=GstPbutils, GstBase=GstBase)
    return _modules


def gst():
    """Return the initialised `Gst` module; GStreamerMissing (with the apt command) without PyGObject."""
    return _load().Gst


def gst_video():
    return _load().GstVideo


def gst_pbutils():
    return _load().GstPbutils


def gst_base():
    return _load().GstBase
