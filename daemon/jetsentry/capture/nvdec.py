"""One NVDEC connection attempt of a camera: PyNvVideoCodec's demuxer and decoder on a thread.

Decoded NV12 frames stay in GPU memory: each admitted frame is copied (device to device,
about 3 MB at 1080p) into one of a few buffers this connection owns and handed over as a
DevicePicture whose release returns the buffer.  The copy makes the picture independent
of the decoder's own surface pool, whose frames PyNvVideoCodec may reuse on the next
decode call.  Files and RTSP go through PyNvVideoCodec's demuxer (FFmpeg inside).

PyNvVideoCodec runs on desktop and data-centre NVIDIA GPUs and on Jetson Thor, not on
Jetson Orin (capture/decoders.py).  It reads no RTCP sender reports, so RTSP frames get
the wall clock at arrival as their capture time; a file's frames get a wall-clock anchor
plus their position (frame index / frame rate).
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from jetsentry.capture.connection import ConnectionEvent, Delivery, EndOfStream, Failed, FrameSink
from jetsentry.capture.decode_problems import DecodeProblems
from jetsentry.capture.nvcuvid import CODEC_H264, CODEC_HEVC
from jetsentry.capture.device_picture import DevicePicture
from jetsentry.capture.errors import (
    BadPipeline,
    BadVideoFile,
    CaptureError,
    ConnectionFailed,
    ElementMissing,
    HandoverFailed,
)
from jetsentry.capture.probe import VideoFileInfo, check_file
from jetsentry.capture.yuv import even_size
from jetsentry.config.models import CameraConfig
from jetsentry.config.source_uri import SourceUri

# Buffers per camera: one being filled, one in the slot, one in the batch being prepared, one in
# the batch in inference (with the governor on, a batch's pictures go back once it was inferred,
# so a failed batch's can still be copied to the host: FrameProcessor.copy_failed_pictures), one spare.
POOL_SIZE = 5
PITCH_ALIGN = 256  # bytes; keeps every row of the copy aligned for the kernel's loads
_CODECS = {"H264": "h264", "HEVC": "h265"}


class _Cancelled(Exception):
    """The connection is closing while a frame waited for a free buffer."""


def nv12_layout(width: int, height: int) -> tuple[int, int, int]:
    """(pitch, luma rows, bytes) of one NV12 buffer of a picture pool: rows aligned to PITCH_ALIGN."""
    even_w, even_h = even_size(width, height)
    pitch = -(-even_w // PITCH_ALIGN) * PITCH_ALIGN
    return pitch, even_h, pitch * even_h * 3 // 2


class DevicePicturePool:
    """A fixed set of NV12 device buffers of one size; a released picture returns its buffer."""

    def __init__(self, device: Any, width: int, height: int, count: int = POOL_SIZE) -> None:
        from jetsentry.gpu.memory import DeviceBuffer

        self.width, self.height = width, height
        self.pitch, self.luma_rows, self.nbytes = nv12_layout(width, height)
        self._device = device
        self._cond = threading.Condition()
        self._closed = False
        self._free: deque = deque()
        try:
            for _ in range(count):
                self._free.append(DeviceBuffer(device, self.nbytes))
        except BaseException:
            self.close()
            raise

    def take(self, cancel: threading.Event) -> Any:
        """A free buffer; waits for a release, and raises _Cancelled when ``cancel`` is set first."""
        with self._cond:
            while not self._free:
                if cancel.is_set() or self._closed:
                    raise _Cancelled()
                self._cond.wait(0.05)
            return self._free.popleft()

    def give_back(self, buffer: Any) -> None:
        with self._cond:
            if not self._closed:
                self._free.append(buffer)
                self._cond.notify()
                return
        buffer.free()  # the pool closed while the picture was out: free it now

    def close(self) -> None:
        with self._cond:
            self._closed = True
            free, self._free = list(self._free), deque()
            self._cond.notify_all()
        for buffer in free:
            buffer.free()


def decoded_planes(frame: Any, width: int, height: int) -> tuple[int, int, int, int]:
    """(luma address, luma pitch, chroma address, chroma pitch) of a PyNvVideoCodec NV12 frame."""
    views = None
    try:
        views = frame.cuda()  # one CUDA-array-interface view per plane
    except Exception:  # noqa: BLE001 - older releases: the base pointer only
        views = None
    if views:
        planes = []
        for view in list(views)[:2]:
            interface = view.__cuda_array_interface__
            strides = interface.get("strides") or (interface["shape"][1] * 1, 1)
            planes.append((int(interface["data"][0]), int(strides[0])))
        if len(planes) == 2:
            return planes[0][0], planes[0][1], planes[1][0], planes[1][1]
    luma = int(frame.GetPtrToPlane(0))  # planes packed back to back at the picture's width
    return luma, width, luma + width * height, width


def codec_name(demuxer: Any) -> str:
    """The name of the codec a PyNvVideoCodec demuxer reads, upper case (e.g. CUDAVIDEOCODEC.H264)."""
    return getattr(demuxer.GetNvCodecId(), "name", str(demuxer.GetNvCodecId())).upper()


def demuxed_codec(demuxer: Any) -> str | None:
    """h264 or h265 for a demuxer of either; None for another codec."""
    name = codec_name(demuxer)
    return next((codec for key, codec in _CODECS.items() if key in name), None)


NVCUVID_CODECS = {"h264": CODEC_H264, "h265": CODEC_HEVC}


def copy_nv12_async(*, dst: int, dst_pitch: int, dst_rows: int, luma: int, luma_pitch: int, chroma: int,
                    chroma_pitch: int, width_bytes: int, luma_rows: int, stream: int, dst_host: bool = False) -> None:
    """An NV12 picture's planes into one buffer: ``luma_rows`` luma rows at ``dst``, the half as
    many chroma rows after ``dst_rows`` rows of ``dst_pitch`` bytes."""
    from jetsentry.gpu.memory import copy_2d_async

    copy_2d_async(dst=dst, dst_pitch=dst_pitch, src=luma, src_pitch=luma_pitch, width_bytes=width_bytes,
                  height=luma_rows, stream=stream, dst_host=dst_host)
    copy_2d_async(dst=dst + dst_pitch * dst_rows, dst_pitch=dst_pitch, src=chroma, src_pitch=chroma_pitch,
                  width_bytes=width_bytes, height=luma_rows // 2, stream=stream, dst_host=dst_host)


def packet_bytes(packet: Any) -> tuple[int, int, int | None]:
    """(host address, size, pts) of a PyNvVideoCodec demuxer packet (its PacketData fields)."""
    pts = getattr(packet, "pts", None)
    return int(packet.bsl_data), int(packet.bsl), None if pts is None else int(pts)


def check_nvdec_source(source: SourceUri) -> None:
    """A CaptureError naming the problem when NVDEC cannot read ``source`` here: PyNvVideoCodec
    missing (with its install command), a source kind it does not read, a missing file."""
    from jetsentry.optional import PYNVVIDEOCODEC, MissingDependencyError, require

    try:
        require("capture.decoder nvdec", PYNVVIDEOCODEC)
    except MissingDependencyError as exc:
        raise ElementMissing(str(exc)) from None
    if source.kind not in ("file", "rtsp"):
        raise BadPipeline(f"decoder nvdec reads files and rtsp:// sources, not {source.kind} sources")
    if source.kind == "file":
        check_file(source.path)


class NvdecConnection:
    """Demux and decode on a thread of its own; events to the session thread through a queue."""

    def __init__(
        self,
        frames: FrameSink,
        camera: CameraConfig,
        source: SourceUri,
        *,
        file_info: VideoFileInfo | None,
        lossless: bool,
        paced: bool,
        wall_clock: Callable[[], float],
        clock: Callable[[], float],
        device: int = 0,
        library: str = "pynvvideocodec",
        pools: Callable[[Any, int, int], Any] | None = None,
    ) -> None:
        check_nvdec_source(source)
        from jetsentry.gpu.cuda import get_device
        from jetsentry.gpu.memory import stream_pool

        self._frames = frames
        self._camera_id = camera.id
        self._source = source
        self._location = source.path if source.kind == "file" else source.raw  # FFmpeg takes credentials in the URL
        self.kind = source.kind
        self.file_info = file_info
        self.problems = DecodeProblems()
        self._lossless, self._paced = lossless, paced
        self._wall_clock, self._clock = wall_clock, clock
        self._library = library
        self._gpu = get_device(device)
        self._streams = stream_pool(self._gpu)
        self._stream = self._streams.take()  # given back, never destroyed: see StreamPool
        self._events: queue.Queue[ConnectionEvent | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: DevicePicturePool | None = None
        # (device, width, height) -> the buffer pool for this stream's pictures; a decoder
        # process passes its own, whose buffers it exports and keeps across connections.
        self._make_pool = pools or DevicePicturePool

    # ---- the session thread ---------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"nvdec-{self._camera_id}", daemon=True)
        self._thread.start()

    def next_event(self, timeout_s: float) -> ConnectionEvent | None:
        try:
            return self._events.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def seek_to_start(self) -> bool:
        return False  # the session reopens the file: a fresh demuxer and decoder

    def stream_note(self) -> str | None:
        info = self.file_info
        return f"NVDEC decodes {info.codec.upper()} {info.width}x{info.height} on {self._gpu.info.name}" if info else None

    def wake(self) -> None:
        self._events.put(None)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._pool is not None:
            self._pool.close()
        self._stream.synchronize()
        self._streams.give_back(self._stream)

    def run_to_end(self) -> ConnectionEvent | None:
        """Decode on the calling thread instead of a thread of its own (a decoder process's main
        thread: capture/nvdec_child.py) until the end, a failure or a cancelled delivery; the
        final event, None when stopped or cancelled.  The pool stays with its maker."""
        try:
            self._run()
        finally:
            self._stream.synchronize()
            self._streams.give_back(self._stream)
        try:
            return self._events.get_nowait()
        except queue.Empty:
            return None

    # ---- the decode thread ----------------------------------------------------------

    def _run(self) -> None:
        import PyNvVideoCodec as nvc

        demuxer = pictures = None
        try:
            self._gpu.activate()
            demuxer = self._open(nvc)
            decoded = self._nvcuvid_pictures if self._library == "nvcuvid" else self._pynvvideocodec_pictures
            pictures = decoded(nvc, demuxer)
            fps = self.file_info.fps if self.file_info is not None else None
            started_wall, started = self._wall_clock(), self._clock()
            index = 0
            for planes in pictures:
                if self._stop.is_set():
                    return
                position = index / fps if fps else None
                index += 1
                if self._paced and position is not None:  # a file played at its own rate, like a camera
                    delay = started + position - self._clock()
                    if delay > 0 and self._stop.wait(delay):
                        return
                capture_ts = (lambda p=position: started_wall + p) if self.kind == "file" and position is not None \
                    else self._wall_clock
                if self._frames.deliver(lambda g=planes: self._picture(g), position, capture_ts) is Delivery.CANCELLED:
                    return
            if not self._stop.is_set():
                self._events.put(EndOfStream())
        except _Cancelled:
            return
        except CaptureError as exc:
            self._events.put(Failed(exc))
        except Exception as exc:  # noqa: BLE001 - PyNvVideoCodec and libnvcuvid raise their own types
            self._events.put(Failed(self._classify(exc)))
        finally:
            if pictures is not None:
                pictures.close()  # the decoder goes with its generator
            planes = pictures = demuxer = None  # noqa: F841 - drop every reference to the decoder's objects here

    # Each yields, per decoded frame in display order, a function giving the frame's planes
    # (luma address, luma pitch, chroma address, chroma pitch) and what to call once they were copied.

    def _pynvvideocodec_pictures(self, nvc: Any, demuxer: Any) -> Iterator[Callable[[], tuple]]:
        info = self.file_info
        decoder = nvc.CreateDecoder(gpuid=self._gpu.index, codec=demuxer.GetNvCodecId(),
                                    cudacontext=int(self._gpu.context), cudastream=self._stream.handle,
                                    usedevicememory=True)

        def pictures() -> Iterator[Callable[[], tuple]]:
            nonlocal decoder
            try:
                for packet in demuxer:
                    for frame in decoder.Decode(packet):
                        yield lambda f=frame: (decoded_planes(f, info.width, info.height), None)
                    if self._stop.is_set():
                        return
            finally:
                decoder = None  # PyNvVideoCodec frees its decoder when the object goes

        return pictures()

    def _nvcuvid_pictures(self, nvc: Any, demuxer: Any) -> Iterator[Callable[[], tuple]]:
        from jetsentry.capture.nvcuvid import CuvidDecoder

        decoder = CuvidDecoder(NVCUVID_CODECS[self.file_info.codec])  # its decoder: at the first sequence header
        stream = self._stream.handle

        def mapped(picture) -> tuple:
            frame = decoder.map(picture, stream)  # waits (without the GIL) until the picture is decoded
            return (frame.luma, frame.pitch, frame.chroma, frame.pitch), frame.unmap

        def pictures() -> Iterator[Callable[[], tuple]]:
            try:
                for packet in demuxer:
                    address, size, pts = packet_bytes(packet)
                    for picture in decoder.decode(address, size, pts):
                        yield lambda p=picture: mapped(p)
                    if self._stop.is_set():
                        return
                for picture in decoder.flush():
                    yield lambda p=picture: mapped(p)
            finally:
                decoder.close()

        return pictures()

    def _open(self, nvc: Any) -> Any:
        try:
            demuxer = nvc.CreateDemuxer(self._location)
        except Exception as exc:  # noqa: BLE001
            if self.kind == "file":
                raise BadVideoFile(f"not a video / cannot decode: {self._source.masked}: {exc}") from None
            raise ConnectionFailed(f"cannot open {self._source.masked}: {exc}") from None
        codec = demuxed_codec(demuxer)
        if codec is None:
            raise BadVideoFile(f"{self._source.masked} holds {codec_name(demuxer)} video; only H.264 and H.265 "
                               "are supported")
        fps = float(demuxer.FrameRate() or 0) or None
        self.file_info = VideoFileInfo(path=self._source.masked, container="nvdec", codec=codec,
                                       width=int(demuxer.Width()), height=int(demuxer.Height()), fps=fps,
                                       duration_s=None)
        return demuxer

    def _picture(self, planes: Callable[[], tuple]) -> DevicePicture:
        info = self.file_info
        if self._pool is None:
            self._pool = self._make_pool(self._gpu, info.width, info.height)
        pool = self._pool
        buffer = pool.take(self._stop)
        done = None
        try:
            (luma, luma_pitch, chroma, chroma_pitch), done = planes()
            copy_nv12_async(dst=buffer.ptr, dst_pitch=pool.pitch, dst_rows=pool.luma_rows, luma=luma,
                            luma_pitch=luma_pitch, chroma=chroma, chroma_pitch=chroma_pitch,
                            width_bytes=even_size(info.width, info.height)[0], luma_rows=pool.luma_rows,
                            stream=self._stream.handle)
            self._stream.synchronize()  # readers need no synchronisation (DevicePicture)
        except BaseException:
            pool.give_back(buffer)
            raise
        finally:
            if done is not None:
                done()  # the decoder's surface back (libnvcuvid: unmapped)
        return DevicePicture(luma_ptr=buffer.ptr, chroma_ptr=buffer.ptr + pool.pitch * pool.luma_rows,
                             pitch=pool.pitch, width=info.width, height=info.height, device=self._gpu.index,
                             stream=self._stream.handle, release=lambda: pool.give_back(buffer))

    def _classify(self, exc: Exception) -> CaptureError:
        from jetsentry.infer.errors import GpuError

        if isinstance(exc, GpuError):
            error: CaptureError = HandoverFailed(f"copying a decoded frame failed: {exc}")
        elif self.kind == "file":  # the same bytes fail the same way again
            self.problems.add(str(exc))
            error = BadVideoFile(f"NVDEC cannot decode {self._source.masked}: {exc}")
        else:
            error = ConnectionFailed(f"NVDEC stream {self._source.masked} failed: {exc}")
        error.__cause__ = exc
        return error
