"""A camera's NVDEC decoder process: PyNvVideoCodec (or libnvcuvid) on its main thread only.

Started by capture/nvdec_process.py as ``python -m jetsentry.capture.nvdec_child FD GPU``, FD
one end of a socket pair.  It serves one connection attempt after another (decoder_link.Open)
with the same code as an in-process NVDEC connection (NvdecConnection.run_to_end), but its
pictures go into device buffers it exports with CUDA IPC: each decoded frame is copied into a
free buffer, the copy synchronised, and a FrameReady names the buffer.  The buffer stays the
daemon's until a Release comes back.  Why a process: PyNvVideoCodec's decode call keeps the
GIL while it works, so in the daemon's own process 16 decoders leave inference little Python
time (docs/PERFORMANCE.md row 9c); here each decoder has a GIL of its own, and one thread,
so nothing waits for it.

Messages from the daemon are read between frames (and while waiting for a free buffer), so
a Stop ends a decode at the next frame.  Pools are kept across attempts while the picture
size stays; a pool no longer used is freed once the daemon says it unmapped it (PoolClosed),
since freeing exported memory still mapped elsewhere is undefined (cuIpcOpenMemHandle).
The process ends when the daemon closes its end of the socket (or dies).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import time
from collections import deque
from multiprocessing.connection import Connection
from typing import Any

from jetsentry.capture import decoder_link as link
from jetsentry.capture.connection import Delivery, EndOfStream, Failed
from jetsentry.capture.nvdec import POOL_SIZE, _Cancelled, nv12_layout


class DaemonLink:
    """This process's end of the socket pair, and what the daemon told it."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.pools: dict[int, ExportedPool] = {}
        self.stop_requested = False

    def send(self, message: link.Message) -> None:
        self._conn.send_bytes(link.encode(message))

    def receive(self, timeout_s: float | None = None) -> link.Message | None:
        """The next message, None after ``timeout_s``; EOFError when the daemon is gone."""
        if timeout_s is not None and not self._conn.poll(timeout_s):
            return None
        return link.decode(self._conn.recv_bytes())

    def handle(self, message: link.Message) -> link.Message | None:
        """Apply a Release, PoolClosed or Stop; any other message is returned to the caller."""
        if isinstance(message, link.Release):
            pool = self.pools.get(message.pool)
            if pool is not None:
                pool.give_back_index(message.index)
        elif isinstance(message, link.PoolClosed):
            pool = self.pools.pop(message.pool, None)
            if pool is not None:
                pool.close()
        elif isinstance(message, link.Stop):
            self.stop_requested = True
        else:
            return message
        return None

    def handle_during_decode(self, message: link.Message) -> None:
        """handle() a message that came while a decode runs, where a new Open is a protocol error."""
        if self.handle(message) is not None:
            raise link.LinkError(f"{type(message).__name__} arrived while a decode was running")

    def drain(self) -> None:
        """Apply every message waiting now."""
        while (message := self.receive(0)) is not None:
            self.handle_during_decode(message)


class ExportedPool:
    """A fixed set of NV12 device buffers of one size, exported for the daemon to map."""

    def __init__(self, daemon: DaemonLink, pool_id: int, device: Any, width: int, height: int) -> None:
        from jetsentry.gpu.ipc import export_handle
        from jetsentry.gpu.memory import DeviceBuffer

        self.id, self.width, self.height = pool_id, width, height
        self.pitch, self.luma_rows, nbytes = nv12_layout(width, height)
        self._daemon = daemon
        self._buffers: list[Any] = []
        try:
            for _ in range(POOL_SIZE):
                self._buffers.append(DeviceBuffer(device, nbytes))
            self.handles = tuple(export_handle(device, buffer.ptr) for buffer in self._buffers)
        except BaseException:
            self.close()
            raise
        self._index = {buffer.ptr: i for i, buffer in enumerate(self._buffers)}
        self._free = deque(range(len(self._buffers)))

    def announcement(self) -> link.PoolAnnounced:
        return link.PoolAnnounced(self.id, self.width, self.height, self.pitch, self.luma_rows, self.handles)

    def take(self, cancel: Any) -> Any:
        """A free buffer; reads the daemon's messages until one is released."""
        while not self._free:
            if cancel.is_set() or self._daemon.stop_requested:
                raise _Cancelled()
            message = self._daemon.receive(0.5)
            if message is not None:
                self._daemon.handle_during_decode(message)
        return self._buffers[self._free.popleft()]

    def give_back(self, buffer: Any) -> None:
        """A buffer the decode took but did not hand over (its copy failed)."""
        self._free.append(self._index[buffer.ptr])

    def give_back_index(self, index: int) -> None:
        if 0 <= index < len(self._buffers) and index not in self._free:
            self._free.append(index)

    def index_of(self, ptr: int) -> int:
        return self._index[ptr]

    def close(self) -> None:
        for buffer in self._buffers:
            buffer.free()
        self._buffers = []
        self._free.clear()


class DecoderServer:
    """The decode attempts of one camera, one after another, on this process's main thread."""

    def __init__(self, daemon: DaemonLink, device: Any) -> None:
        self._daemon = daemon
        self._device = device
        self.pool: ExportedPool | None = None  # the pool of the current picture size
        self._next_pool = 0

    def pool_for(self, device: Any, width: int, height: int) -> ExportedPool:
        """The pool for pictures of this size: kept from the last attempt, or a new one announced."""
        pool = self.pool
        if pool is not None and (pool.width, pool.height) == (width, height):
            return pool
        pool = ExportedPool(self._daemon, self._next_pool, device, width, height)
        self._next_pool += 1
        self._daemon.pools[pool.id] = pool  # the previous pool stays until the daemon closes it
        self.pool = pool
        self._daemon.send(pool.announcement())
        return pool

    def serve(self) -> None:
        """Answer Opens until the daemon closes the socket."""
        while True:
            try:
                message = self._daemon.receive()
            except EOFError:
                return
            message = self._daemon.handle(message)
            if isinstance(message, link.Open):
                self._daemon.stop_requested = False
                self._daemon.send(self._decode(message))
            elif message is not None:
                raise link.LinkError(f"a decoder process cannot take {type(message).__name__} between decodes")

    def _decode(self, request: link.Open) -> link.Ended:
        from jetsentry.capture.errors import CaptureError
        from jetsentry.capture.nvdec import NvdecConnection
        from jetsentry.config.models import CameraConfig
        from jetsentry.config.source_uri import parse_source_uri

        sink = _FrameSender(self, self._daemon)
        try:
            # Validated by the daemon already; validating again could only fail with the URI,
            # credentials included, in the error.
            camera = CameraConfig.model_construct(id=request.camera_id, source=request.source)
            connection = NvdecConnection(sink, camera, parse_source_uri(request.source), file_info=None,
                                         lossless=request.lossless, paced=request.paced, wall_clock=time.time,
                                         clock=time.monotonic, device=self._device.index, library=request.library,
                                         pools=self.pool_for)
            sink.connection = connection
            event = connection.run_to_end()
        except CaptureError as exc:
            event = Failed(exc)
        problems = [] if sink.connection is None else _problem_texts(sink.connection.problems)
        if isinstance(event, EndOfStream):
            return link.Ended("eos", problems=problems)
        if isinstance(event, Failed):
            return link.Ended("failed", type(event.error).__name__, str(event.error), problems)
        return link.Ended("stopped", problems=problems)


def _problem_texts(problems: Any) -> list[str]:
    count, last = problems.snapshot()
    return [last] if count and last else []


class _FrameSender:
    """The FrameSink of a decode here: every frame's picture made and announced to the daemon
    (the daemon's session applies the fps cap and the slot, and releases what it drops)."""

    def __init__(self, server: DecoderServer, daemon: DaemonLink) -> None:
        self._server = server
        self._daemon = daemon
        self.connection: Any = None
        self._info_sent = False

    def deliver(self, make_picture, pts_s, capture_ts) -> Delivery:
        daemon = self._daemon
        daemon.drain()
        if daemon.stop_requested:
            return Delivery.CANCELLED
        if not self._info_sent:
            daemon.send(link.StreamInfo(dataclasses.asdict(self.connection.file_info)))
            self._info_sent = True
        picture = make_picture()  # a free buffer (waiting for a Release if need be), copied and synchronised
        pool = self._server.pool
        daemon.send(link.FrameReady(pool.id, pool.index_of(picture.luma_ptr), pts_s, capture_ts()))
        return Delivery.HANDED_OVER


def main(argv: list[str]) -> int:
    if len(argv) != 3 or not (argv[1].isdigit() and argv[2].isdigit()):
        print("usage: python -m jetsentry.capture.nvdec_child SOCKET_FD GPU_INDEX", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the daemon stops this process, not the terminal
    daemon = DaemonLink(Connection(int(argv[1])))  # a socket's descriptor reads and writes as a pipe's
    try:
        from jetsentry.gpu.cuda import get_device

        device = get_device(int(argv[2]))
        device.activate()
    except Exception as exc:  # noqa: BLE001 - no driver, no GPU or no cuda-python: told to the daemon
        daemon.send(link.Ended("failed", "ElementMissing", f"the decoder process has no usable GPU: {exc}"))
        return 1
    daemon.send(link.Ready(os.getpid(), device.info.name))
    try:
        DecoderServer(daemon, device).serve()
    except (BrokenPipeError, ConnectionResetError, EOFError):
        pass  # the daemon went away
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
