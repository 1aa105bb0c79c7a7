"""One camera: a GStreamer pipeline driven by a reconnecting state machine.

    IDLE -> CONNECTING -> STREAMING -> RECOVERING -(backoff)-> CONNECTING ...
                      \\-> FAILED (retrying cannot help)     STOPPED (stop(), or file EOS + on_eos=stop)

Each session owns one thread that polls its pipeline's bus, so one failing camera
never blocks another.  Frames are converted and handed to the slot on GStreamer's
streaming thread (appsink new-sample), never waiting for inference.

Error policy (capture/errors.py).  A FatalCaptureError goes FAILED: a missing
GStreamer element or a pipeline the configuration cannot build, for every source kind;
for file sources also a file that is missing, is not a supported video, or fails to
decode (reading the same bytes again fails the same way), and a file of which a whole
pass decodes no frame.  Every other error (a lost connection, a stall, a frame hand-over
that raised, a pipeline GStreamer refused to start) is retried with exponential backoff
and full jitter: cameras come back.

Decode problems that do not stop the pipeline (FFmpeg concealing damaged data, a
demuxer skipping it, a file pass that ends short of the frames the file declares) are
counted in `SessionStats.decode_errors` and logged rate-limited: the first in full, then
a summary at most every `problem_log_interval_s`.  A damaged file keeps looping.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from jetsentry.backoff import Backoff, RetryDelay
from jetsentry.capture.buffers import CaptureClock, YuvSampleReader, pts_seconds
from jetsentry.capture.decode_report import CameraDecodeReport
from jetsentry.capture.errors import (
    BadPipeline,
    CaptureError,
    ConnectionFailed,
    DecodeError,
    EndOfStream,
    FatalCaptureError,
    HandoverFailed,
)
from jetsentry.capture.frame import Frame
from jetsentry.capture.gst import gst
from jetsentry.capture.gst_pipeline import GstPipeline
from jetsentry.capture.pipeline import SinkOptions
from jetsentry.capture.rate import FpsLimiter
from jetsentry.capture.slot import LatestFrameSlot
from jetsentry.capture.sources import SourcePlan, plan_source
from jetsentry.capture.state import TERMINAL_STATES, SessionState, SessionStats, StateChange
from jetsentry.config.models import CameraConfig, CaptureConfig
from jetsentry.config.source_uri import parse_source_uri

log = logging.getLogger(__name__)

# How often the session thread wakes to check stall/connect timeouts; bus messages
# and stop() wake it at once.
POLL_S = 0.05
HISTORY_LEN = 256
# Decode problems can come with every frame of a damaged stream: after the first, one
# summary line per minute at most.
PROBLEM_LOG_INTERVAL_S = 60.0
_RTP_CODECS = {"H264": "h264", "H265": "h265"}
# GStreamer numbers unnamed elements (h264parse0, h264parse1, ...): ignored when
# deciding whether an error repeats the previous one.
_ELEMENT_NUMBER = re.compile(r"(?<=[a-z_])\d+(?=:)")


class _RebuildNow(Exception):
    """Internal: build a fresh pipeline at once (no backoff): a file that cannot seek to loop."""


class CameraSession:
    def __init__(
        self,
        camera: CameraConfig,
        capture: CaptureConfig,
        slot: LatestFrameSlot,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        problem_log_interval_s: float = PROBLEM_LOG_INTERVAL_S,
    ) -> None:
        self.camera = camera
        self._capture = capture
        self._slot = slot
        self._source = parse_source_uri(camera.source)
        self._clock = clock
        self._Gst = gst()
        self._backoff = Backoff(capture.backoff_base_s, capture.backoff_cap_s, rng)
        self._limiter = FpsLimiter(camera.fps_cap)
        self._pictures = YuvSampleReader()
        self._capture_clock = CaptureClock(wall_clock, use_pts=self._source.kind == "file")
        # Files play at their own frame rate (sync=true), as a camera would deliver them;
        # unpaced and dropping they would decode as fast as the CPU allows and starve
        # inference.  realtime: false instead waits for each frame to be taken (lossless).
        is_file = self._source.kind == "file"
        self._lossless = is_file and not camera.realtime
        self._sink = SinkOptions(
            max_buffers=capture.max_buffers, drop=not self._lossless, sync=is_file and not self._lossless
        )
        self._handover_cancel = threading.Event()  # releases a lossless hand-over at teardown
        self._waiting_for_consumer = False  # a lossless hand-over is waiting: not a stall

        self._cond = threading.Condition()  # guards everything below that two threads touch
        self._state = SessionState.IDLE
        self._transitions: deque[StateChange] = deque([StateChange(SessionState.IDLE, clock())], maxlen=HISTORY_LEN)
        self._retries: deque[RetryDelay] = deque(maxlen=HISTORY_LEN)
        self._last_error: str | None = None
        self._pipe: GstPipeline | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

        # Written only by the streaming thread (one per pipeline, pipelines never overlap).
        self._seq = 0
        self._decoded = 0
        self._frames = 0
        self._dropped_fps = 0
        self._last_frame_at: float | None = None
        self._callback_error: CaptureError | None = None
        self._stream_problem: CaptureError | None = None  # found while rtspsrc chose streams
        self._rtsp_encoding: str | None = None
        # Written only by the session thread.
        self._reconnects = 0
        self._loops = 0
        self._rtsp_decoders: dict[str, str] = {}
        self._file_info = None
        self._streak_error: str | None = None  # the error retried since frames last flowed
        self._decode = CameraDecodeReport(camera.id, self._source.masked, interval_s=problem_log_interval_s,
                                          clock=clock)

    # ---- public API -----------------------------------------------------------------

    @property
    def camera_id(self) -> str:
        return self.camera.id

    @property
    def slot(self) -> LatestFrameSlot:
        """Where this camera's newest frame waits for the batcher."""
        return self._slot

    @property
    def state(self) -> SessionState:
        with self._cond:
            return self._state

    @property
    def last_error(self) -> str | None:
        with self._cond:
            return self._last_error

    @property
    def stats(self) -> SessionStats:
        with self._cond:
            return SessionStats(
                state=self._state,
                frames=self._frames,
                decoded=self._decoded,
                dropped_fps_cap=self._dropped_fps,
                dropped_slot=self._slot.dropped,
                reconnects=self._reconnects,
                loops=self._loops,
                decode_errors=self._decode.decode_errors,
                frames_lost=self._decode.frames_lost,
                last_error=self._last_error,
                transitions=tuple(self._transitions),
                retries=tuple(self._retries),
            )

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"camera {self.camera.id}: session already started")
        if not self.camera.enabled:
            self._set_state(SessionState.STOPPED, "camera disabled")
            return
        log.info("camera %s: starting capture from %s", self.camera.id, self._source.masked)
        self._thread = threading.Thread(target=self._run, name=f"capture-{self.camera.id}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop capture; True when the session thread ended within `timeout_s`."""
        self._stop.set()
        self._handover_cancel.set()
        with self._cond:
            pipe = self._pipe
        if pipe is not None:
            pipe.wake()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
            if thread.is_alive():
                log.error("camera %s: capture thread did not stop within %.1f s", self.camera.id, timeout_s)
                return False
        with self._cond:
            if self._state not in TERMINAL_STATES:
                self._set_state_locked(SessionState.STOPPED, "stopped")
        return True

    def wait_for_state(self, states: SessionState | Iterable[SessionState], timeout_s: float) -> bool:
        """Block until the state is one of `states`; False on timeout."""
        wanted = {states} if isinstance(states, SessionState) else set(states)
        with self._cond:
            return self._cond.wait_for(lambda: self._state in wanted, timeout_s)

    # ---- state machine ------------------------------------------------------------

    def _set_state(self, state: SessionState, reason: str = "", *, quiet: bool = False) -> None:
        with self._cond:
            self._set_state_locked(state, reason, quiet=quiet)

    def _set_state_locked(self, state: SessionState, reason: str, *, quiet: bool = False) -> None:
        if state == self._state:
            return
        suffix = f" ({reason})" if reason else ""
        level = logging.DEBUG if quiet else logging.INFO
        log.log(level, "camera %s: %s -> %s%s", self.camera.id, self._state.name, state.name, suffix)
        self._state = state
        self._transitions.append(StateChange(state, self._clock(), reason))
        self._cond.notify_all()

    def _record_error(self, exc: CaptureError) -> bool:
        """Store and log the error; True when it repeats the previous one."""
        message = str(exc)
        with self._cond:
            self._last_error = message
        key = _ELEMENT_NUMBER.sub("", message)
        repeated, self._streak_error = key == self._streak_error, key
        # The first error of a streak is a warning; identical retries would flood the log.
        log.log(logging.DEBUG if repeated else logging.WARNING, "camera %s: %s", self.camera.id, message)
        if isinstance(exc, HandoverFailed) and exc.__cause__ is not None and not repeated:
            log.error("camera %s: frame hand-over failed", self.camera.id, exc_info=exc.__cause__)
        return repeated

    def _run(self) -> None:
        first = True
        rebuild = False  # reopening a file to loop it is not a reconnect
        quiet = False  # retrying after the same error again: log transitions at DEBUG
        try:
            while not self._stop.is_set():
                if not first and not rebuild:
                    self._reconnects += 1
                first = rebuild = False
                self._set_state(SessionState.CONNECTING, quiet=quiet)
                try:
                    outcome = self._connect_and_stream()
                except _RebuildNow:
                    rebuild = True
                    continue
                except CaptureError as exc:
                    quiet = self._record_error(exc)
                    if isinstance(exc, FatalCaptureError):
                        self._set_state(SessionState.FAILED, str(exc))
                        return
                    delay = self._backoff.next_delay()
                    with self._cond:
                        self._retries.append(delay)
                    self._set_state(SessionState.RECOVERING, f"{exc}; retry in {delay.delay_s:.2f} s", quiet=quiet)
                    self._stop.wait(delay.delay_s)
                    continue
                if outcome == "eos":
                    self._set_state(SessionState.STOPPED, "end of file")
                    return
        except Exception as exc:  # a bug must end this camera only, visibly
            log.exception("camera %s: capture thread crashed", self.camera.id)
            with self._cond:
                self._last_error = f"internal error: {exc!r}"
            self._set_state(SessionState.FAILED, "internal error")
            return
        self._set_state(SessionState.STOPPED, "stopped")

    def _connect_and_stream(self) -> str:
        """Run one pipeline until stop ("stopped"), file end with on_eos=stop ("eos"), or an error."""
        try:
            plan = plan_source(
                self.camera, self._capture, self._source, self._sink,
                file_info=self._file_info,
            )
        except ValueError as exc:
            raise BadPipeline(f"bad source {self._source.masked}: {exc}") from None
        self._file_info = plan.file_info
        self._rtsp_decoders = dict(plan.decoders)
        pipe = GstPipeline(
            plan.description, source_kind=plan.kind, source_name=self._source.masked, idle_priority=self._lossless
        )
        self._reset_connection()
        with self._cond:
            self._pipe = pipe
        try:
            self._configure(pipe, plan)
            if self._stop.is_set():
                return "stopped"
            started_at = self._clock()
            pipe.play()
            return self._watch(pipe, plan, started_at)
        finally:
            with self._cond:
                self._pipe = None
            self._handover_cancel.set()  # a streaming thread waiting in the slot must return before close
            pipe.close()
            self._decode.collect(pipe.problems)

    def _reset_connection(self) -> None:
        if not self._stop.is_set():
            self._handover_cancel.clear()
        self._waiting_for_consumer = False
        self._limiter.reset()
        self._capture_clock.reset()
        self._last_frame_at = None
        self._callback_error = None
        self._stream_problem = None
        self._rtsp_encoding = None
        self._decode.new_pipeline()

    def _configure(self, pipe: GstPipeline, plan: SourcePlan) -> None:
        pipe.sink.connect("new-sample", self._on_new_sample)
        if plan.kind == "rtsp":
            src = pipe.element("src")
            src.connect("select-stream", self._on_select_stream)
            if plan.credentials is not None and plan.credentials.user:
                src.set_property("user-id", plan.credentials.user)
                src.set_property("user-pw", plan.credentials.password or "")

    def _watch(self, pipe: GstPipeline, plan: SourcePlan, started_at: float) -> str:
        capture = self._capture
        decoded_at_start = pass_start = self._decoded
        handled_at_start = self._frames + self._dropped_fps
        streaming = flowing = False
        while True:
            msg = pipe.next_message(POLL_S)
            if self._stop.is_set():
                return "stopped"
            self._decode.collect(pipe.problems)
            if msg is not None:
                if pipe.is_error(msg):
                    raise self._explain_error(pipe, msg)
                if pipe.is_eos(msg):
                    if plan.kind != "file":
                        raise EndOfStream(f"{plan.kind} source {self._source.masked} ended the stream")
                    declared = self._file_info.frame_count if self._file_info is not None else None
                    self._decode.end_of_pass(pipe.problems, self._decoded - pass_start, declared)
                    pass_start = self._decoded
                    if self.camera.on_eos == "stop":
                        return "eos"
                    self._loops += 1
                    if not pipe.seek_to_start():
                        raise _RebuildNow()  # e.g. a raw stream that cannot seek: reopen it
                    self._last_frame_at = self._clock()
                    continue
            now = self._clock()
            if not streaming:
                if self._decoded > decoded_at_start:
                    streaming = True
                    if self._rtsp_encoding:
                        codec = _RTP_CODECS[self._rtsp_encoding]
                        log.info("camera %s: RTSP video is %s, decoded by %s",
                                 self.camera.id, self._rtsp_encoding, self._rtsp_decoders[codec])
                    self._set_state(SessionState.STREAMING)
                elif now - started_at > capture.connect_timeout_s:
                    raise ConnectionFailed(
                        f"no frame from {self._source.masked} within connect timeout {capture.connect_timeout_s:g} s"
                    )
            else:
                if not flowing and self._frames + self._dropped_fps > handled_at_start:
                    # A frame made it through the hand-over: the source works.  (Not at the
                    # first decoded frame: a hand-over failing on every frame must keep
                    # backing off, and log once.)
                    flowing = True
                    self._backoff.reset()
                    self._streak_error = None
                last = self._last_frame_at
                if last is not None and now - last > capture.stall_timeout_s and not self._waiting_for_consumer:
                    raise ConnectionFailed(
                        f"stalled: no frame from {self._source.masked} for {capture.stall_timeout_s:g} s"
                    )
            self._decode.tick()

    def _explain_error(self, pipe: GstPipeline, msg) -> Exception:
        return self._callback_error or self._stream_problem or pipe.error_from(msg)

    # ---- GStreamer threads --------------------------------------------------------

    def _on_select_stream(self, _src, _num, caps) -> bool:
        """Set up only the video stream, and only when a branch can decode it."""
        structure = caps.get_structure(0)
        if structure.get_string("media") != "video":
            return False
        encoding = (structure.get_string("encoding-name") or "").upper()
        codec = _RTP_CODECS.get(encoding)
        if codec is None or codec not in self._rtsp_decoders:
            usable = ", ".join(f"{c.upper()} ({d})" for c, d in self._rtsp_decoders.items())
            self._stream_problem = DecodeError(
                f"RTSP video from {self._source.masked} is {encoding or 'of unknown encoding'}; "
                f"this camera can decode only {usable}"
            )
            return False
        self._rtsp_encoding = encoding
        return True

    def _on_new_sample(self, sink):
        Gst = self._Gst
        try:
            sample = sink.emit("pull-sample")
            if sample is None:
                return Gst.FlowReturn.OK
            self._last_frame_at = self._clock()
            self._decoded += 1
            seq = self._seq  # every decoded frame takes a number, so gaps show drops
            self._seq += 1
            buffer = sample.get_buffer()
            ts = pts_seconds(buffer)
            if not self._limiter.admit(self._last_frame_at if ts is None else ts):
                self._dropped_fps += 1
                return Gst.FlowReturn.OK
            picture = self._pictures.picture(sample)
            capture_ts = self._capture_clock.capture_ts(buffer)
            frame = Frame(self.camera.id, seq, picture, capture_ts, self._clock())
            if self._lossless:
                self._waiting_for_consumer = True
                try:
                    if not self._slot.put_when_taken(frame, self._handover_cancel):
                        return Gst.FlowReturn.FLUSHING  # the pipeline is being torn down
                finally:
                    self._waiting_for_consumer = False
                    self._last_frame_at = self._clock()
            else:
                self._slot.put(frame)
            self._frames += 1
            return Gst.FlowReturn.OK
        except CaptureError as exc:
            self._callback_error = exc
        except Exception as exc:  # never let an exception escape into GStreamer's thread
            # Not logged here: logging from a GStreamer thread registers a Python thread
            # object that is never freed.  The session thread reports it.
            self._callback_error = HandoverFailed(f"frame hand-over failed: {exc!r}")
            self._callback_error.__cause__ = exc
        return Gst.FlowReturn.ERROR
