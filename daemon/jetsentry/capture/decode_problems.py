"""Decode problems of one pipeline, counted on the GStreamer threads that meet them.

Damaged data rarely stops a pipeline: demuxers skip what they cannot parse and FFmpeg
conceals what it cannot decode, and the frames just go missing.  What they report, and
where:

- demuxers, parsers and decoders post WARNING messages on the bus (tsdemux on a broken
  packet, for instance); the pipeline's bus sync handler counts them (`note_warning`);
- FFmpeg's errors inside the libav decoders (avdec_*: "error while decoding MB ...")
  reach no bus: gst-libav writes them only to GStreamer's debug log, with no element.
  `install_libav_tap` adds a debug log function that counts them for the pipeline whose
  streaming thread is decoding; each pipeline registers its streaming threads as they
  enter its tasks (STREAM_STATUS ENTER, posted from inside the thread);
- an ERROR that ends the pipeline is counted where it is classified (GstPipeline).

Nothing here logs: logging from a GStreamer thread registers a Python thread object that
is never freed.  The owner of the pipeline reads the counts and reports them.
"""

from __future__ import annotations

import atexit
import os
import threading

from jetsentry.capture.gst import gst

_LIBAV_CATEGORY = "libav"

_tap_lock = threading.Lock()
_tap_level = None  # Gst.DebugLevel.ERROR once the tap is installed
# Streaming thread (native id) -> the DecodeProblems of the pipeline it runs for.
_thread_owners: dict[int, DecodeProblems] = {}


class DecodeProblems:
    """How many decode problems one pipeline met, and the latest one's text (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._latest: str | None = None

    def add(self, text: str) -> None:
        with self._lock:
            self._count += 1
            self._latest = text

    def snapshot(self) -> tuple[int, str | None]:
        """(problems so far, the latest one's text)."""
        with self._lock:
            return self._count, self._latest

    @property
    def count(self) -> int:
        with self._lock:
            return self._count

    # Called from the pipeline's bus sync handler, on the thread that posted the message.

    def enter_thread(self) -> None:
        _thread_owners[threading.get_native_id()] = self

    def leave_thread(self) -> None:
        if _thread_owners.get(threading.get_native_id()) is self:
            del _thread_owners[threading.get_native_id()]

    def note_warning(self, msg) -> None:
        """Count a bus WARNING when a demuxer, parser or decoder posted it."""
        element = msg.src
        factory = element.get_factory() if hasattr(element, "get_factory") else None
        klass = (factory.get_metadata("klass") or "") if factory is not None else ""
        if klass.startswith("Codec/"):
            err, _debug = msg.parse_warning()
            self.add(f"{element.get_name()}: {err.message}")

    def forget_threads(self) -> None:
        """Drop this pipeline's thread registrations (after its threads have stopped)."""
        for tid, owner in list(_thread_owners.items()):
            if owner is self:
                _thread_owners.pop(tid, None)


def install_libav_tap() -> None:
    """Count FFmpeg's decode errors per pipeline (once per process).

    Without GST_DEBUG in the environment GStreamer's debug output is off; the libav
    category is then raised to ERROR and GStreamer's default printer removed, so stderr
    stays as quiet as before.  With GST_DEBUG set the user's levels and printer stay, and
    libav errors are counted when those levels let them through (the default for any level).
    """
    global _tap_level
    with _tap_lock:
        if _tap_level is not None:
            return
        Gst = gst()
        if "GST_DEBUG" not in os.environ:
            Gst.debug_set_threshold_for_name(_LIBAV_CATEGORY, Gst.DebugLevel.ERROR)
            Gst.debug_remove_log_function(None)  # None: GStreamer's default printer
        Gst.debug_add_log_function(_on_debug_message, None)
        atexit.register(Gst.debug_remove_log_function, _on_debug_message)
        _tap_level = Gst.DebugLevel.ERROR


def _on_debug_message(category, level, _file, _function, _line, _obj, message, *_user) -> None:
    # Runs for every GStreamer debug message that passes its category's level, on any thread.
    if level != _tap_level or category.get_name() != _LIBAV_CATEGORY:
        return
    owner = _thread_owners.get(threading.get_native_id())
    if owner is not None:
        owner.add(f"libav: {(message.get() or '').strip()}")
