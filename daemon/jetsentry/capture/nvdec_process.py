"""NVDEC decoding in a process of the camera's own (``capture.nvdec_process: true``).

The camera's session runs its connection attempts as with in-process NVDEC (capture/nvdec.py),
but the demuxer and decoder run in a child process (capture/nvdec_child.py) that the session
keeps across attempts.  The child decodes into device buffers it allocated and exported with
CUDA IPC; this side maps each buffer once and hands frames over as DevicePictures whose
release sends the buffer back.  Per frame only two short messages cross the socket pair
(capture/decoder_link.py): the frame's buffer, pts and capture time one way, its release the
other.  So no decoder holds this process's GIL (docs/PERFORMANCE.md row 9c).

A child that dies (a crash inside the driver, kill -9) ends the attempt with ConnectionFailed
naming its exit status; the session backs off and the next attempt starts a new child.  A
child that does not answer a Stop within STOP_TIMEOUT_S is killed.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from jetsentry.capture import decoder_link as link
from jetsentry.capture import errors
from jetsentry.capture.connection import ConnectionEvent, Delivery, EndOfStream, Failed, FrameSink
from jetsentry.capture.decode_problems import DecodeProblems
from jetsentry.capture.device_picture import DevicePicture
from jetsentry.capture.errors import CaptureError, ConnectionFailed
from jetsentry.capture.probe import VideoFileInfo
from jetsentry.config.models import CameraConfig
from jetsentry.config.source_uri import SourceUri

log = logging.getLogger("jetsentry.capture")

START_TIMEOUT_S = 30.0  # a child imports PyNvVideoCodec and makes a CUDA context first
STOP_TIMEOUT_S = 5.0
# The CaptureError classes a child's failure may name; anything else arrives as ConnectionFailed.
_ERRORS = {cls.__name__: cls for cls in (errors.BadVideoFile, errors.FileNotFound, errors.ConnectionFailed,
                                         errors.HandoverFailed, errors.ElementMissing, errors.BadPipeline,
                                         errors.DecodeError, errors.SourceNotFound)}


def error_from(ended: link.Ended) -> CaptureError:
    """The CaptureError a child's failed attempt names."""
    return _ERRORS.get(ended.error or "", ConnectionFailed)(ended.message or "the decoder process failed")


class MappedPool:
    """A child's exported buffers, mapped here; unmapped once retired and every picture is back."""

    def __init__(self, announced: link.PoolAnnounced, pointers: list[int]) -> None:
        self.announced = announced
        self.pointers = pointers
        self.out = 0  # pictures handed over and not yet released
        self.retired = False


class DecoderProcess:
    """One camera's decoder process and the pools of it this process mapped."""

    def __init__(self, camera_id: str, device: Any) -> None:
        import jetsentry

        self.camera_id = camera_id
        self._device = device
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        package_root = str(Path(jetsentry.__file__).resolve().parents[1])  # the child imports the same code
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "jetsentry.capture.nvdec_child", str(theirs.fileno()), str(device.index)],
                pass_fds=(theirs.fileno(),), env=env, stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        self._conn = Connection(ours.detach())
        self._lock = threading.Lock()  # sends (releases come from any thread) and the pools
        self._pools: dict[int, MappedPool] = {}
        self._current: int | None = None
        self._closing = self._ended = False
        ready = self.receive(START_TIMEOUT_S)
        if isinstance(ready, link.Ended):
            self.close()
            raise error_from(ready)
        if not isinstance(ready, link.Ready):
            self.close()
            raise ConnectionFailed(f"the decoder process of camera {camera_id} did not start "
                                   f"({self.exit_description() or 'no answer'})")
        self.pid = ready.pid

    @property
    def alive(self) -> bool:
        return not self._closing and self._process.poll() is None

    def exit_description(self, wait_s: float = 0.0) -> str | None:
        """How the child ended ("killed by signal 9"), waiting up to ``wait_s``; None while it runs."""
        try:
            code = self._process.wait(wait_s) if wait_s else self._process.poll()
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            return None
        return f"killed by signal {-code}" if code < 0 else f"exit status {code}"

    def send(self, message: link.Message) -> None:
        with self._lock:
            self._conn.send_bytes(link.encode(message))

    def receive(self, timeout_s: float) -> link.Message | None:
        """The child's next message, None after ``timeout_s``; EOFError when it is gone."""
        if not self._conn.poll(timeout_s):
            return None
        return link.decode(self._conn.recv_bytes())

    def map_pool(self, announced: link.PoolAnnounced) -> None:
        from jetsentry.gpu.ipc import open_handle

        pointers: list[int] = []
        try:
            for handle in announced.handles:
                pointers.append(open_handle(self._device, handle))
        except BaseException:
            self._unmap(pointers)
            raise
        with self._lock:
            previous = self._pools.get(self._current) if self._current is not None else None
            self._pools[announced.pool] = MappedPool(announced, pointers)
            self._current = announced.pool
        if previous is not None:
            self._retire(previous)

    def picture(self, frame: link.FrameReady) -> DevicePicture:
        """The frame's buffer as a DevicePicture whose release gives the buffer back to the child."""
        with self._lock:
            pool = self._pools.get(frame.pool)
            if pool is None or not 0 <= frame.index < len(pool.pointers):
                raise errors.HandoverFailed(f"the decoder process named buffer {frame.index} of pool {frame.pool}, "
                                            "which it never announced")
            pool.out += 1
        spec = pool.announced
        ptr = pool.pointers[frame.index]
        return DevicePicture(luma_ptr=ptr, chroma_ptr=ptr + spec.pitch * spec.luma_rows, pitch=spec.pitch,
                             width=spec.width, height=spec.height, device=self._device.index,
                             release=lambda: self.release(frame.pool, frame.index))

    def release(self, pool_id: int, index: int) -> None:
        with self._lock:
            pool = self._pools.get(pool_id)
            if pool is None:
                return
            pool.out -= 1
            done = pool.retired and pool.out == 0
        self._send_quietly(link.Release(pool_id, index))
        if done:
            self._close_pool(pool_id)

    def release_unmade(self, frame: link.FrameReady) -> None:
        """Give back a frame the session did not admit (no picture was made of it)."""
        self._send_quietly(link.Release(frame.pool, frame.index))

    def _retire(self, pool: MappedPool) -> None:
        with self._lock:
            pool.retired = True
            done = pool.out == 0
        if done:
            self._close_pool(pool.announced.pool)

    def _close_pool(self, pool_id: int) -> None:
        with self._lock:
            pool = self._pools.pop(pool_id, None)
        if pool is None:
            return
        self._unmap(pool.pointers)
        self._send_quietly(link.PoolClosed(pool_id))  # the child may free it now
        with self._lock:
            last = self._closing and not self._pools
        if last:  # on a thread of its own: the releasing thread is the frame path's
            threading.Thread(target=self._end_child, name=f"nvdec-end-{self.camera_id}", daemon=True).start()

    def _unmap(self, pointers: list[int]) -> None:
        from jetsentry.gpu.ipc import close_handle

        for ptr in pointers:
            try:
                close_handle(self._device, ptr)
            except Exception as exc:  # noqa: BLE001 - one failed unmap must not keep the others mapped
                log.warning("camera %s: unmapping a decoder buffer failed: %s", self.camera_id, exc)

    def _send_quietly(self, message: link.Message) -> None:
        try:
            self.send(message)
        except (OSError, ValueError, EOFError):
            pass  # the child is gone: nothing to give back

    def close(self) -> None:
        """Unmap every pool and end the child (closing the socket ends its loop; killed if it does
        not go).  Pictures still out keep their pool mapped and the child running until the last
        comes back, or STOP_TIMEOUT_S passed: the child must not free memory mapped here."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            pools = list(self._pools.values())
        for pool in pools:
            self._retire(pool)
        with self._lock:
            waiting = bool(self._pools)
        if waiting:
            timer = threading.Timer(STOP_TIMEOUT_S, self._end_child)
            timer.daemon = True
            timer.start()
        else:
            self._end_child()

    def _end_child(self) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
        self._conn.close()
        try:
            self._process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


class DecoderProcessHolder:
    """A session's decoder process, started at its first attempt and again after one died."""

    def __init__(self, camera_id: str) -> None:
        self._camera_id = camera_id
        self._process: DecoderProcess | None = None
        self._lock = threading.Lock()

    def get(self, device: Any) -> DecoderProcess:
        with self._lock:
            process = self._process
            if process is not None and process.alive:
                return process
            self._process = None
        if process is not None:
            process.close()
        process = DecoderProcess(self._camera_id, device)
        log.info("camera %s: decoder process %d started", self._camera_id, process.pid)
        with self._lock:
            self._process = process
        return process

    def discard(self, process: DecoderProcess) -> None:
        """Drop a child that broke the protocol or hung: the next attempt starts a new one."""
        with self._lock:
            if self._process is process:
                self._process = None
        process.close()

    def close(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            process.close()


class ProcessNvdecConnection:
    """One connection attempt decoded by the session's decoder process; frames to the session
    from a reader thread here, which blocks in the socket (without the GIL) between frames."""

    def __init__(self, frames: FrameSink, camera: CameraConfig, source: SourceUri, *,
                 file_info: VideoFileInfo | None, lossless: bool, paced: bool, device: int,
                 library: str, processes: DecoderProcessHolder) -> None:
        from jetsentry.capture.nvdec import check_nvdec_source
        from jetsentry.gpu.cuda import get_device

        check_nvdec_source(source)

        self._frames = frames
        self._camera_id = camera.id
        self._request = link.Open(camera.id, source.path if source.kind == "file" else source.raw,
                                  lossless, paced, library)
        self._masked = source.masked
        self.kind = source.kind
        self.file_info = file_info
        self.problems = DecodeProblems()
        self._gpu = get_device(device)
        self._processes = processes
        self._events: list[ConnectionEvent] = []
        self._event_ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"nvdec-link-{self._camera_id}", daemon=True)
        self._thread.start()

    def next_event(self, timeout_s: float) -> ConnectionEvent | None:
        self._event_ready.wait(timeout_s)
        self._event_ready.clear()
        return self._events.pop(0) if self._events else None

    def seek_to_start(self) -> bool:
        return False  # the session asks again: the child opens a fresh demuxer and decoder

    def stream_note(self) -> str | None:
        info = self.file_info
        return (f"NVDEC decodes {info.codec.upper()} {info.width}x{info.height} on {self._gpu.info.name} "
                "in a decoder process") if info else None

    def wake(self) -> None:
        self._event_ready.set()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _event(self, event: ConnectionEvent) -> None:
        self._events.append(event)
        self._event_ready.set()

    def _run(self) -> None:
        process = None
        try:
            self._gpu.activate()
            process = self._processes.get(self._gpu)
            process.send(self._request)
            ended = self._relay(process)
        except CaptureError as exc:
            self._event(Failed(exc))
            return
        except (EOFError, OSError) as exc:
            died = process.exit_description(wait_s=2.0) if process is not None else None
            if process is not None:
                self._processes.discard(process)
            self._event(Failed(ConnectionFailed(f"the decoder process of camera {self._camera_id} ended "
                                                f"({died or exc or 'connection lost'}) while reading {self._masked}")))
            return
        except Exception as exc:  # noqa: BLE001 - a protocol or mapping failure: start afresh next time
            if process is not None:
                self._processes.discard(process)
            self._event(Failed(errors.HandoverFailed(f"decoder process hand-over failed: {exc}")))
            return
        if ended is None:
            return
        for text in ended.problems:
            self.problems.add(text)
        if ended.end == "eos" and not self._stop.is_set():
            self._event(EndOfStream())
        elif ended.end == "failed":
            self._event(Failed(error_from(ended)))

    def _relay(self, process: DecoderProcess) -> link.Ended | None:
        """Frames to the session until the child's Ended; None when it had to be given up."""
        stop_sent_at = None
        while True:
            if self._stop.is_set() and stop_sent_at is None:
                process.send(link.Stop())
                stop_sent_at = time.monotonic()
            message = process.receive(0.1)
            if message is None:
                if not process.alive:
                    raise EOFError()
                if stop_sent_at is not None and time.monotonic() - stop_sent_at > STOP_TIMEOUT_S:
                    log.warning("camera %s: the decoder process did not stop within %g s; killed",
                                self._camera_id, STOP_TIMEOUT_S)
                    self._processes.discard(process)
                    return None
                continue
            if isinstance(message, link.FrameReady):
                self._hand_over(process, message, deliver=stop_sent_at is None)
            elif isinstance(message, link.PoolAnnounced):
                process.map_pool(message)
            elif isinstance(message, link.StreamInfo):
                self.file_info = VideoFileInfo(**message.file_info)
            elif isinstance(message, link.Ended):
                return message
            else:
                raise link.LinkError(f"unexpected {type(message).__name__} from the decoder process")

    def _hand_over(self, process: DecoderProcess, frame: link.FrameReady, *, deliver: bool) -> None:
        made: list[DevicePicture] = []

        def make_picture() -> DevicePicture:
            made.append(process.picture(frame))
            return made[0]

        outcome = Delivery.CANCELLED
        if deliver:
            outcome = self._frames.deliver(make_picture, frame.pts_s, lambda: frame.capture_ts)
        if not made:
            process.release_unmade(frame)
        if outcome is Delivery.CANCELLED:
            self._stop.set()
