"""One GStreamer pipeline: parse, play, read bus messages as CaptureErrors, tear down."""

from __future__ import annotations

from jetsentry.capture.decode_problems import DecodeProblems, install_libav_tap
from jetsentry.capture.errors import (
    BadPipeline,
    CaptureError,
    DecodeError,
    ElementMissing,
    PipelineStartFailed,
    classify_gst_error,
)
from jetsentry.capture.gst import gst
from jetsentry.idle import make_this_thread_idle

_WAKE = "jetsentry-wake"


class GstPipeline:
    """A parsed gst-launch description whose last element is `appsink name=sink`.

    Only the owning thread calls play/next_message/close; wake() may be called from any
    thread to make a pending next_message return early.
    """

    def __init__(self, description: str, *, source_kind: str, source_name: str, idle_priority: bool = False) -> None:
        Gst = gst()
        from gi.repository import GLib

        self._Gst = Gst
        self.source_kind = source_kind
        self.source_name = source_name  # masked: safe for messages
        try:
            self.pipeline = Gst.parse_launch(description)
        except GLib.Error as exc:
            if "no element" in exc.message:
                raise ElementMissing(f"GStreamer pipeline cannot be built: {exc.message}") from None
            raise BadPipeline(f"GStreamer pipeline cannot be built: {exc.message}") from None
        self.bus = self.pipeline.get_bus()
        self.sink = self.pipeline.get_by_name("sink")
        if self.sink is None:
            raise BadPipeline("pipeline description has no element named 'sink'")
        self._mask = Gst.MessageType.ERROR | Gst.MessageType.EOS | Gst.MessageType.APPLICATION
        self.problems = DecodeProblems()
        install_libav_tap()
        self._task_pool = None
        if idle_priority:
            # Streaming threads normally come from GStreamer's default task pool and are
            # reused by later pipelines; an idle thread reused by a live camera would stay
            # idle (an unprivileged thread cannot leave SCHED_IDLE).  So this pipeline's
            # tasks get a pool of their own, and GLib keeps no finished threads for reuse
            # (its pools share them), so they end with the pipeline.
            GLib.thread_pool_set_max_unused_threads(0)
            GLib.thread_pool_stop_unused_threads()
            self._task_pool = Gst.TaskPool.new()
            self._task_pool.prepare()
        self.bus.set_sync_handler(_StreamingThreads(self.problems, self._task_pool))

    def element(self, name: str):
        return self.pipeline.get_by_name(name)

    def play(self) -> None:
        Gst = self._Gst
        if self.pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            msg = self.bus.pop_filtered(Gst.MessageType.ERROR)
            if msg is not None:
                raise self.error_from(msg)
            raise PipelineStartFailed(f"GStreamer refused to start the pipeline for {self.source_name}")

    def next_message(self, timeout_s: float):
        """The next ERROR, EOS or wake message, or None after `timeout_s`."""
        return self.bus.timed_pop_filtered(int(timeout_s * self._Gst.SECOND), self._mask)

    def is_error(self, msg) -> bool:
        return msg.type == self._Gst.MessageType.ERROR

    def is_eos(self, msg) -> bool:
        return msg.type == self._Gst.MessageType.EOS

    def error_from(self, msg) -> CaptureError:
        err, debug = msg.parse_error()
        code = _code_nick(err)
        element = msg.src.get_name() if msg.src is not None else "?"
        error = classify_gst_error(
            err.domain, code, element, err.message, debug, source_kind=self.source_kind, source=self.source_name
        )
        if isinstance(error, DecodeError):
            self.problems.add(str(error))
        return error

    def wake(self) -> None:
        Gst = self._Gst
        self.bus.post(Gst.Message.new_application(None, Gst.Structure.new_empty(_WAKE)))

    def seek_to_start(self) -> bool:
        Gst = self._Gst
        return self.pipeline.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0)

    def close(self) -> None:
        """Stop streaming threads and free the pipeline; blocks until they have stopped."""
        self.pipeline.set_state(self._Gst.State.NULL)
        self.bus.set_sync_handler(None)
        self.problems.forget_threads()
        if self._task_pool is not None:
            self._task_pool.cleanup()  # joins the pool's threads
            self._task_pool = None


class _StreamingThreads:
    """Bus sync handler, run on the thread that posts each message.

    Registers the pipeline's streaming threads for decode-problem counting as they enter
    and leave its tasks, and counts codec elements' warnings (decode_problems.py).

    With a task pool (sources decoded ahead of a consumer that waits for nothing else:
    recordings, `jetsentry analyze`), every streaming thread also comes from that pool
    and runs at SCHED_IDLE: decoding then uses only CPU time that inference leaves idle,
    instead of preempting one of ONNX Runtime's threads, which stalls the others at the
    next barrier.  CREATE is posted before a task starts (its pool can still be set);
    ENTER comes from inside the new thread before it opens its decoder, so the decoder's
    own worker threads inherit the policy.
    """

    def __init__(self, problems: DecodeProblems, idle_pool) -> None:
        self._problems = problems
        self._idle_pool = idle_pool
        self._Gst = gst()

    def __call__(self, _bus, msg):
        Gst = self._Gst
        if msg.type == Gst.MessageType.STREAM_STATUS:
            status, _owner = msg.parse_stream_status()
            if status == Gst.StreamStatusType.CREATE:
                task = msg.get_stream_status_object()
                if self._idle_pool is not None and isinstance(task, Gst.Task):
                    task.set_pool(self._idle_pool)
            elif status == Gst.StreamStatusType.ENTER:
                self._problems.enter_thread()
                if self._idle_pool is not None:
                    make_this_thread_idle()
            elif status == Gst.StreamStatusType.LEAVE:
                self._problems.leave_thread()
        elif msg.type == Gst.MessageType.WARNING:
            self._problems.note_warning(msg)
        return Gst.BusSyncReply.PASS


def _code_nick(err) -> str:
    """The GError code as a GStreamer enum nick ("not-found", "decode", ...)."""
    Gst = gst()
    from gi.repository import GLib

    enums = {
        GLib.quark_to_string(Gst.ResourceError.quark()): Gst.ResourceError,
        GLib.quark_to_string(Gst.StreamError.quark()): Gst.StreamError,
        GLib.quark_to_string(Gst.CoreError.quark()): Gst.CoreError,
        GLib.quark_to_string(Gst.LibraryError.quark()): Gst.LibraryError,
    }
    enum = enums.get(err.domain)
    if enum is None:
        return str(err.code)
    try:
        return enum(err.code).value_nick
    except ValueError:
        return str(err.code)
