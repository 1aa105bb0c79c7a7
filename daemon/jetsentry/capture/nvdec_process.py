"""One NVDEC connection attempt decoded in a child process; its NV12 frames cross by CUDA IPC.

PyNvVideoCodec's decode call keeps Python's GIL while it works, so decoders in the
inference process take the interpreter from everything else: on an NVIDIA H200 the engine
ran 45 batches/s beside 16 decoding streams in its process, 151 beside the same streams
in another process and 164 alone (bench/gpu/gil_probe.py --beside-nvdec 16).  With
``capture.nvdec_process`` each camera's connection runs capture/nvdec.py's
NvdecConnection in a child process of its own (spawned: CUDA does not survive fork):

- the child allocates the connection's pool of NV12 device buffers and exports each with
  ``cuIpcGetMemHandle``; this process maps them once (``cuIpcOpenMemHandle``);
- per decoded frame the child copies it into a free buffer, synchronises its stream and
  sends the buffer's address and the frame's position (a few dozen bytes over a pipe);
  this process hands a DevicePicture over that buffer to the session's FrameSink, and its
  release sends the buffer back;
- the end of the stream and decode errors come back as events, classified by the child;
  a child that dies is a failed connection (the session reconnects with its backoff).

The cost: a CUDA context per camera process (GPU memory; see docs/PERFORMANCE.md) and a
process start per connection attempt.  CUDA IPC needs a desktop or data-centre GPU; Jetson
Thor is unverified.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from jetsentry.capture import errors as capture_errors
from jetsentry.capture.connection import ConnectionEvent, Delivery, EndOfStream, Failed, FrameSink
from jetsentry.capture.decode_problems import DecodeProblems
from jetsentry.capture.device_picture import DevicePicture
from jetsentry.capture.errors import CaptureError, ConnectionFailed
from jetsentry.capture.probe import VideoFileInfo
from jetsentry.config.models import CameraConfig
from jetsentry.config.source_uri import SourceUri

log = logging.getLogger("jetsentry.capture")

RELEASE_WAIT_S = 60.0  # after close(): how long pictures still out may take to come back before the child goes
IPC_HANDLE_SIZE = 64  # CU_IPC_HANDLE_SIZE: the bytes of a CUipcMemHandle


def handle_bytes(handle: Any) -> bytes:
    """A CUipcMemHandle's bytes, read through its address (cuda.bindings exposes no field for them)."""
    import ctypes

    return bytes((ctypes.c_char * IPC_HANDLE_SIZE).from_address(handle.getPtr()))


def handle_from_bytes(data: bytes) -> Any:
    import ctypes

    from jetsentry.gpu.cuda import driver

    if len(data) != IPC_HANDLE_SIZE:
        raise ValueError(f"a CUDA IPC handle has {IPC_HANDLE_SIZE} bytes, got {len(data)}")
    handle = driver.CUipcMemHandle()
    ctypes.memmove(handle.getPtr(), data, IPC_HANDLE_SIZE)
    return handle


class NvdecProcessConnection:
    """The Connection protocol (capture/connection.py) over a decoding child process."""

    def __init__(self, frames: FrameSink, camera: CameraConfig, source: SourceUri, *,
                 file_info: VideoFileInfo | None, lossless: bool, paced: bool,
                 wall_clock: Callable[[], float], clock: Callable[[], float], device: int = 0,
                 start_timeout_s: float = 30.0) -> None:
        from jetsentry.capture.errors import BadPipeline, ElementMissing
        from jetsentry.capture.probe import check_file
        from jetsentry.optional import PYNVVIDEOCODEC, MissingDependencyError, require

        try:
            require("capture.decoder nvdec", PYNVVIDEOCODEC)
        except MissingDependencyError as exc:
            raise ElementMissing(str(exc)) from None
        if source.kind not in ("file", "rtsp"):
            raise BadPipeline(f"decoder nvdec reads files and rtsp:// sources, not {source.kind} sources")
        if source.kind == "file":
            check_file(source.path)
        from jetsentry.gpu.cuda import get_device

        self._frames = frames
        self._camera, self._source = camera, source
        self.kind = source.kind
        self.file_info = file_info
        self.problems = DecodeProblems()
        self._lossless, self._paced = lossless, paced
        self._wall_clock, self._clock = wall_clock, clock
        self._gpu = get_device(device)
        self._start_timeout_s = start_timeout_s
        self._events: queue.Queue[ConnectionEvent | None] = queue.Queue()
        self._mapped: dict[int, int] = {}  # the child's buffer address -> this process's mapping
        self._layout: dict[str, int] = {}
        self._out: set[int] = set()  # buffers whose picture is out (child addresses)
        self._out_cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._closing = threading.Event()
        self._process: Any = None
        self._to_child = self._from_child = None
        self._reader: threading.Thread | None = None

    # ---- the session thread ---------------------------------------------------------

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        parent_in, child_out = context.Pipe(duplex=False)
        child_in, parent_out = context.Pipe(duplex=False)
        self._from_child, self._to_child = parent_in, parent_out
        self._process = context.Process(
            target=worker_main, name=f"nvdec-{self._camera.id}", daemon=True,
            args=(self._camera, self._source, self.file_info, self._lossless, self._paced, self._gpu.index,
                  child_out, child_in))
        self._process.start()
        child_out.close()
        child_in.close()
        self._reader = threading.Thread(target=self._read, name=f"nvdec-ipc-{self._camera.id}", daemon=True)
        self._reader.start()

    def next_event(self, timeout_s: float) -> ConnectionEvent | None:
        try:
            return self._events.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def seek_to_start(self) -> bool:
        return False  # the session reopens the file: a fresh child

    def stream_note(self) -> str | None:
        info = self.file_info
        if info is None:
            return None
        return f"NVDEC decodes {info.codec.upper()} {info.width}x{info.height} on {self._gpu.info.name} in a child process"

    def wake(self) -> None:
        self._events.put(None)

    def close(self) -> None:
        """Stop the child's decoding now; the child and its buffers go once every picture handed
        over is released (a picture may still wait in the slot or a batch), on a thread of their own."""
        self._closing.set()
        self._send(("stop",))  # the child stops decoding; its buffers stay until it exits
        if self._reader is not None:
            self._reader.join(10.0)
        with self._out_cond:
            outstanding = bool(self._out)
        if outstanding:
            threading.Thread(target=self._end_when_released, name=f"nvdec-end-{self._camera.id}", daemon=True).start()
        else:
            self._end_child()

    def _end_when_released(self) -> None:
        with self._out_cond:
            deadline = time.monotonic() + RELEASE_WAIT_S
            while self._out and time.monotonic() < deadline:
                self._out_cond.wait(0.1)
            if self._out:
                log.warning("camera %s: %d NVDEC pictures not released %.0f s after its connection closed; "
                            "its decoder process ends now", self._camera.id, len(self._out), RELEASE_WAIT_S)
        self._end_child()

    def _end_child(self) -> None:
        self._unmap()
        self._send(("exit",))
        if self._process is not None:
            self._process.join(10.0)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5.0)
        for end in (self._to_child, self._from_child):
            if end is not None:
                end.close()

    # ---- the reader thread ----------------------------------------------------------

    def _read(self) -> None:
        try:
            self._read_messages()
        except Exception as exc:  # noqa: BLE001 - a dead child or a bad message: the connection failed
            if not self._closing.is_set():
                code = None
                if self._process is not None:
                    self._process.join(2.0)  # reaped, so its exit code is known
                    code = self._process.exitcode
                self._events.put(Failed(ConnectionFailed(
                    f"the NVDEC decoder process of camera {self._camera.id} ended ({_exit_text(code, exc)})")))

    def _read_messages(self) -> None:
        started_wall = self._wall_clock()
        pipe = self._from_child
        if not pipe.poll(self._start_timeout_s):
            raise TimeoutError(f"no answer within {self._start_timeout_s:.0f} s")
        while True:
            message = pipe.recv()
            kind = message[0]
            if kind == "frame":
                if self._hand_over(message[1], message[2], started_wall) is Delivery.CANCELLED:
                    return
            elif kind == "opened":
                self.file_info = message[1]
                started_wall = self._wall_clock()
            elif kind == "pool":
                self._map(message[1], message[2])
            elif kind == "eos":
                self._events.put(EndOfStream())
            elif kind == "failed":
                error_type = getattr(capture_errors, message[1], CaptureError)
                if message[3]:
                    self.problems.add(message[3])
                self._events.put(Failed(error_type(message[2])))
            elif kind == "stopped":
                return

    def _hand_over(self, child_ptr: int, position: float | None, started_wall: float) -> Delivery:
        layout = self._layout
        luma = self._mapped[child_ptr]
        with self._out_cond:
            self._out.add(child_ptr)

        def picture() -> DevicePicture:
            return DevicePicture(luma_ptr=luma, chroma_ptr=luma + layout["pitch"] * layout["luma_rows"],
                                 pitch=layout["pitch"], width=layout["width"], height=layout["height"],
                                 device=self._gpu.index, stream=0, release=lambda: self._give_back(child_ptr))

        if self.kind == "file" and position is not None:
            def capture_ts() -> float:
                return started_wall + position
        else:
            capture_ts = self._wall_clock
        made = self._frames.deliver(picture, position, capture_ts)
        if made is Delivery.DROPPED:
            self._give_back(child_ptr)
        return made

    def _give_back(self, child_ptr: int) -> None:
        with self._out_cond:
            self._out.discard(child_ptr)
            self._out_cond.notify_all()
        self._send(("free", child_ptr))

    def _send(self, message: tuple) -> None:
        with self._send_lock:
            try:
                self._to_child.send(message)
            except (OSError, ValueError, AttributeError):  # the child is gone (or never started)
                pass

    def _map(self, handles: dict[int, bytes], layout: dict[str, int]) -> None:
        from jetsentry.gpu.cuda import check, driver

        self._gpu.activate()
        for child_ptr, data in handles.items():
            self._mapped[child_ptr] = int(check(driver.cuIpcOpenMemHandle(
                handle_from_bytes(data), driver.CUipcMem_flags.CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS),
                "cuIpcOpenMemHandle"))
        self._layout = layout

    def _unmap(self) -> None:
        from jetsentry.gpu.cuda import check, driver

        mapped, self._mapped = self._mapped, {}
        if mapped:
            self._gpu.activate()
        for ptr in mapped.values():
            try:
                check(driver.cuIpcCloseMemHandle(ptr), "cuIpcCloseMemHandle")
            except Exception as exc:  # noqa: BLE001 - closing: say so, go on
                log.warning("camera %s: %s", self._camera.id, exc)


def _exit_text(code: int | None, exc: BaseException) -> str:
    if code is None:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"


# ---- the child process --------------------------------------------------------------


class _ChildSink:
    """The child's FrameSink: every decoded frame copied into a pool buffer and announced."""

    def __init__(self, connection_ref: list, to_parent: Any, send_lock: threading.Lock) -> None:
        self._connection_ref = connection_ref
        self._to_parent = to_parent
        self._send_lock = send_lock
        self.pictures: dict[int, DevicePicture] = {}
        self._lock = threading.Lock()
        self._pool_sent = False

    def deliver(self, make_picture, pts_s, capture_ts) -> Delivery:
        picture = make_picture()  # waits for a free buffer, copies, synchronises
        if not self._pool_sent:
            self._send_pool()
        with self._lock:
            self.pictures[picture.luma_ptr] = picture
        self.send(("frame", picture.luma_ptr, pts_s))
        return Delivery.HANDED_OVER

    def free(self, child_ptr: int) -> None:
        with self._lock:
            picture = self.pictures.pop(child_ptr, None)
        if picture is not None:
            picture.release()

    def send(self, message: tuple) -> None:
        with self._send_lock:
            self._to_parent.send(message)

    def _send_pool(self) -> None:
        from jetsentry.gpu.cuda import check, driver

        connection = self._connection_ref[0]
        pool = connection._pool
        handles = {buffer.ptr: handle_bytes(check(driver.cuIpcGetMemHandle(buffer.ptr), "cuIpcGetMemHandle"))
                   for buffer in pool.buffers}
        info = connection.file_info
        self.send(("opened", info))
        self.send(("pool", handles, {"pitch": pool.pitch, "luma_rows": pool.luma_rows, "width": info.width,
                                     "height": info.height}))
        self._pool_sent = True


def worker_main(camera: CameraConfig, source: SourceUri, file_info: VideoFileInfo | None, lossless: bool,
                paced: bool, device: int, to_parent: Any, from_parent: Any) -> None:
    """The child: NvdecConnection over a _ChildSink, until the parent says exit (or goes)."""
    from jetsentry.capture.nvdec import NvdecConnection

    send_lock = threading.Lock()
    connection_ref: list = [None]
    sink = _ChildSink(connection_ref, to_parent, send_lock)
    try:
        connection = NvdecConnection(sink, camera, source, file_info=file_info, lossless=lossless, paced=paced,
                                     wall_clock=time.time, clock=time.monotonic, device=device)
        connection_ref[0] = connection
        connection.start()
    except CaptureError as exc:
        sink.send(("failed", type(exc).__name__, str(exc), None))
        _wait_for_exit(from_parent, sink)
        return
    forwarder = threading.Thread(target=_forward_events, args=(connection, sink), daemon=True)
    forwarder.start()
    stopped = False
    try:
        while True:
            try:
                message = from_parent.recv()
            except (EOFError, OSError):
                return  # the parent is gone
            if message[0] == "free":
                sink.free(message[1])
            elif message[0] == "stop" and not stopped:
                stopped = True
                connection._stop.set()  # stop decoding; the pool stays until exit
                sink.send(("stopped",))
            elif message[0] == "exit":
                return
    finally:
        connection.close()


def _forward_events(connection: Any, sink: _ChildSink) -> None:
    while True:
        event = connection.next_event(0.5)
        if event is None:
            if connection._stop.is_set():
                return
            continue
        try:
            if isinstance(event, EndOfStream):
                sink.send(("eos",))
            else:
                problem = str(event.error.__cause__) if isinstance(event.error.__cause__, Exception) else None
                sink.send(("failed", type(event.error).__name__, str(event.error), problem))
        except (OSError, ValueError):
            return


def _wait_for_exit(from_parent: Any, sink: _ChildSink) -> None:
    while True:
        try:
            message = from_parent.recv()
        except (EOFError, OSError):
            return
        if message[0] == "exit":
            return
        if message[0] == "stop":
            sink.send(("stopped",))

