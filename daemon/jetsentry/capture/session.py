"""One camera: a decoder connection (GStreamer, or NVDEC) driven by a reconnecting state machine.

    IDLE -> CONNECTING -> STREAMING -> RECOVERING -(backoff)-> CONNECTING ...
                      \\-> FAILED (retrying cannot help)     STOPPED (stop(), or file EOS + on_eos=stop)

Each session owns one thread that waits for its connection's events (capture/connection.py),
so one failing camera never blocks another.  Frames are handed to the slot on the
connection's own thread (GStreamer's streaming thread, the NVDEC decode thread), never
waiting for inference.  Which decoder a camera uses is decided once, when the session is
made (capture/decoders.py); everything below is the same for all of them.

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
from jetsentry.capture.connection import Connection, Delivery, EndOfStream, Failed
from jetsentry.capture.decode_report import CameraDecodeReport
from jetsentry.capture.decoders import CaptureBackend, choose_backend
from jetsentry.capture.errors import (
    CaptureError,
    ConnectionFailed,
    EndOfStream as EndOfStreamError,
    FatalCaptureError,
    HandoverFailed,
)
from jetsentry.capture.frame import Frame
from jetsentry.capture.pipeline import SinkOptions
from jetsentry.capture.rate import FpsLimiter
from jetsentry.capture.slot import LatestFrameSlot
from jetsentry.capture.state import TERMINAL_STATES, SessionState, SessionStats, StateChange
from jetsentry.config.models import CameraConfig, CaptureConfig
from jetsentry.config.source_uri import parse_source_uri
from jetsentry.health.heartbeat import Heartbeat, wait_beating

log = logging.getLogger(__name__)

# How often the session thread wakes to check stall/connect timeouts; bus messages
# and stop() wake it at once.
POLL_S = 0.05
HISTORY_LEN = 256
# Decode problems can come with every frame of a damaged stream: after the first, one
# summary line per minute at most.
PROBLEM_LOG_INTERVAL_S = 60.0
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
        backend: CaptureBackend | None = None,
        first_seq: int = 0,  # a session replaced within a run goes on counting: message_ids stay unique
    ) -> None:
        self.camera = camera
        self._capture = capture
        self._slot = slot
        self._source = parse_source_uri(camera.source)
        self._clock = clock
        self._wall_clock = wall_clock
        # The decoder family, decided once (an explicit one, or probed: capture/decoders.py).
        self.backend = backend if backend is not None else choose_backend(camera, capture)
        self._backoff = Backoff(capture.backoff_base_s, capture.backoff_cap_s, rng)
        self._limiter = FpsLimiter(camera.fps_cap)
        # The governor's load-shedding cap, below fps_cap; replaced whole (set_policy_fps_cap),
        # so the frame thread reads it without a lock.
        self._policy_limiter: FpsLimiter | None = None
        self._capture_clock = None  # GStreamer's, made with the first GStreamer connection
        self._decoder_process = None  # capture.nvdec_process: the child kept across connections
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
        self._connection: Connection | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Beaten by the session thread at every turn (health/heartbeat.py); finished when the
        # thread returns (stopped, end of file, FAILED): only a running session is required.
        self.heartbeat = Heartbeat(f"capture:{camera.id}")

        # Written only by the connection's frame thread (connections never overlap).
        self._seq = first_seq
        self._decoded = 0
        self._frames = 0
        self._dropped_fps = 0
        self._dropped_policy = 0
        self._last_frame_at: float | None = None
        # Written only by the session thread.
        self._reconnects = 0
        self._loops = 0
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
                dropped_policy=self._dropped_policy,
                reconnects=self._reconnects,
                loops=self._loops,
                decode_errors=self._decode.decode_errors,
                frames_lost=self._decode.frames_lost,
                last_error=self._last_error,
                transitions=tuple(self._transitions),
                retries=tuple(self._retries),
            )

    @property
    def policy_fps_cap(self) -> float | None:
        limiter = self._policy_limiter
        return None if limiter is None else limiter.max_fps

    @property
    def next_seq(self) -> int:
        """The sequence number the next decoded frame takes."""
        return self._seq

    def set_fps_cap(self, fps: float | None) -> None:
        """Replace the camera's fps_cap (None lifts it) without touching the connection."""
        self._limiter = FpsLimiter(fps)
        self.camera = self.camera.model_copy(update={"fps_cap": fps})
        log.info("camera %s: fps_cap %s", self.camera.id, "lifted" if fps is None else f"{fps:g} fps")

    def set_policy_fps_cap(self, fps: float | None) -> None:
        """Hand over at most `fps` frames per second (as well as fps_cap) until changed; None lifts it.

        The load-shedding cap of the health governor; frames it drops are counted apart
        (`SessionStats.dropped_policy`) and still take sequence numbers, as fps_cap drops do.
        The connection stays open."""
        self._policy_limiter = None if fps is None else FpsLimiter(fps)
        log.info("camera %s: load-shedding cap %s", self.camera.id, "lifted" if fps is None else f"{fps:g} fps")

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"camera {self.camera.id}: session already started")
        if not self.camera.enabled:
            self._set_state(SessionState.STOPPED, "camera disabled")
            return
        log.info("camera %s: starting capture from %s", self.camera.id, self._source.masked)
        self.heartbeat.start()
        self._thread = threading.Thread(target=self._run, name=f"capture-{self.camera.id}", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Stop capture; True when the session thread ended within `timeout_s`."""
        self._stop.set()
        self._handover_cancel.set()
        with self._cond:
            connection = self._connection
        if connection is not None:
            connection.wake()
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
        try:
            self._serve()
        finally:
            if self._decoder_process is not None:
                self._decoder_process.close()
            self.heartbeat.finish()

    def _serve(self) -> None:
        first = True
        rebuild = False  # reopening a file to loop it is not a reconnect
        quiet = False  # retrying after the same error again: log transitions at DEBUG
        try:
            while not self._stop.is_set():
                self.heartbeat.beat()
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
                    wait_beating(self._stop, delay.delay_s, self.heartbeat)  # a backoff is not a wedge
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

    def _open_connection(self) -> Connection:
        if self.backend.name == "nvdec" and self._capture.nvdec_process:
            from jetsentry.capture.nvdec_process import DecoderProcessHolder, ProcessNvdecConnection

            if self._decoder_process is None:
                self._decoder_process = DecoderProcessHolder(self.camera.id)
            return ProcessNvdecConnection(self, self.camera, self._source, file_info=self._file_info,
                                          lossless=self._lossless, paced=self._sink.sync, device=self.backend.device,
                                          library=self._capture.nvdec_library, processes=self._decoder_process)
        if self.backend.name == "nvdec":
            from jetsentry.capture.nvdec import NvdecConnection

            return NvdecConnection(self, self.camera, self._source, file_info=self._file_info,
                                   lossless=self._lossless, paced=self._sink.sync, wall_clock=self._wall_clock,
                                   clock=self._clock, device=self.backend.device,
                                   library=self._capture.nvdec_library)
        from jetsentry.capture.buffers import CaptureClock
        from jetsentry.capture.gst_connection import GstConnection

        if self._capture_clock is None:
            self._capture_clock = CaptureClock(self._wall_clock, use_pts=self._source.kind == "file")
        return GstConnection(self, self.camera, self._capture, self._source, self._sink, file_info=self._file_info,
                             idle_priority=self._lossless, capture_clock=self._capture_clock)

    def _connect_and_stream(self) -> str:
        """Run one connection until stop ("stopped"), file end with on_eos=stop ("eos"), or an error."""
        connection = self._open_connection()
        self._file_info = connection.file_info
        self._reset_connection()
        with self._cond:
            self._connection = connection
        try:
            if self._stop.is_set():
                return "stopped"
            started_at = self._clock()
            connection.start()
            return self._watch(connection, started_at)
        finally:
            with self._cond:
                self._connection = None
            self._handover_cancel.set()  # a frame thread waiting in the slot must return before close
            connection.close()
            self._decode.collect(connection.problems)

    def _reset_connection(self) -> None:
        if not self._stop.is_set():
            self._handover_cancel.clear()
        self._waiting_for_consumer = False
        self._limiter.reset()
        policy = self._policy_limiter
        if policy is not None:
            policy.reset()
        if self._capture_clock is not None:
            self._capture_clock.reset()
        self._last_frame_at = None
        self._decode.new_pipeline()

    def _watch(self, connection: Connection, started_at: float) -> str:
        capture = self._capture
        decoded_at_start = pass_start = self._decoded
        handled_at_start = self._frames + self._dropped_fps + self._dropped_policy
        streaming = flowing = False
        while True:
            event = connection.next_event(POLL_S)
            self.heartbeat.beat()
            if self._stop.is_set():
                return "stopped"
            self._decode.collect(connection.problems)
            if isinstance(event, Failed):
                raise event.error
            if isinstance(event, EndOfStream):
                if connection.kind != "file":
                    raise EndOfStreamError(f"{connection.kind} source {self._source.masked} ended the stream")
                declared = self._file_info.frame_count if self._file_info is not None else None
                self._decode.end_of_pass(connection.problems, self._decoded - pass_start, declared)
                pass_start = self._decoded
                if self.camera.on_eos == "stop":
                    return "eos"
                self._loops += 1
                if not connection.seek_to_start():
                    raise _RebuildNow()  # e.g. a raw stream that cannot seek: reopen it
                self._last_frame_at = self._clock()
                continue
            now = self._clock()
            if not streaming:
                if self._decoded > decoded_at_start:
                    streaming = True
                    note = connection.stream_note()
                    if note:
                        log.info("camera %s: %s", self.camera.id, note)
                    self._set_state(SessionState.STREAMING)
                elif now - started_at > capture.connect_timeout_s:
                    raise ConnectionFailed(
                        f"no frame from {self._source.masked} within connect timeout {capture.connect_timeout_s:g} s"
                    )
            else:
                if not flowing and self._frames + self._dropped_fps + self._dropped_policy > handled_at_start:
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

    # ---- the connection's frame thread ------------------------------------------------

    def deliver(self, make_picture, pts_s: float | None, capture_ts) -> Delivery:
        """One decoded frame from the connection's thread: numbered, fps-capped, handed to the slot.

        Every decoded frame takes a sequence number, so gaps show drops; the picture is made
        (copied out of the decoder) only for frames the fps cap admits.  Lossless sessions
        wait for the consumer; live ones replace an untaken frame.
        """
        self._last_frame_at = self._clock()
        self._decoded += 1
        seq = self._seq
        self._seq += 1
        ts = self._last_frame_at if pts_s is None else pts_s
        if not self._limiter.admit(ts):
            self._dropped_fps += 1
            return Delivery.DROPPED
        policy = self._policy_limiter
        if policy is not None and not policy.admit(ts):
            self._dropped_policy += 1
            return Delivery.DROPPED
        frame = Frame(self.camera.id, seq, make_picture(), capture_ts(), self._clock())
        if self._lossless:
            self._waiting_for_consumer = True
            try:
                if not self._slot.put_when_taken(frame, self._handover_cancel):
                    frame.release()
                    return Delivery.CANCELLED  # the connection is being torn down
            finally:
                self._waiting_for_consumer = False
                self._last_frame_at = self._clock()
        else:
            self._slot.put(frame)
        self._frames += 1
        return Delivery.HANDED_OVER
