"""One GStreamer connection attempt of a camera: the pipeline, its appsink and its bus.

Frames are converted and handed to the session on GStreamer's streaming thread
(appsink new-sample), never waiting for inference.  Copy policy: capture/buffers.py.
"""

from __future__ import annotations

from jetsentry.capture.buffers import CaptureClock, YuvSampleReader, pts_seconds
from jetsentry.capture.connection import ConnectionEvent, Delivery, EndOfStream, Failed, FrameSink
from jetsentry.capture.errors import BadPipeline, CaptureError, DecodeError, HandoverFailed
from jetsentry.capture.gst import gst
from jetsentry.capture.gst_pipeline import GstPipeline
from jetsentry.capture.pipeline import SinkOptions
from jetsentry.capture.probe import VideoFileInfo
from jetsentry.capture.sources import plan_source
from jetsentry.config.models import CameraConfig, CaptureConfig
from jetsentry.config.source_uri import SourceUri

_RTP_CODECS = {"H264": "h264", "H265": "h265"}


class GstConnection:
    def __init__(
        self,
        frames: FrameSink,
        camera: CameraConfig,
        capture: CaptureConfig,
        source: SourceUri,
        sink: SinkOptions,
        *,
        file_info: VideoFileInfo | None,
        idle_priority: bool,
        capture_clock: CaptureClock,
    ) -> None:
        try:
            plan = plan_source(camera, capture, source, sink, file_info=file_info)
        except ValueError as exc:
            raise BadPipeline(f"bad source {source.masked}: {exc}") from None
        self._Gst = gst()
        self._frames = frames
        self._source_name = source.masked
        self.kind = plan.kind
        self.file_info = plan.file_info
        self._decoders = dict(plan.decoders)
        self._capture_clock = capture_clock
        self._pictures = YuvSampleReader()
        self._callback_error: CaptureError | None = None
        self._stream_problem: CaptureError | None = None  # found while rtspsrc chose streams
        self._rtsp_encoding: str | None = None
        self._pipe = GstPipeline(plan.description, source_kind=plan.kind, source_name=source.masked,
                                 idle_priority=idle_priority)
        self.problems = self._pipe.problems
        self._pipe.sink.connect("new-sample", self._on_new_sample)
        if plan.kind == "rtsp":
            src = self._pipe.element("src")
            src.connect("select-stream", self._on_select_stream)
            if plan.credentials is not None and plan.credentials.user:
                src.set_property("user-id", plan.credentials.user)
                src.set_property("user-pw", plan.credentials.password or "")

    def start(self) -> None:
        self._pipe.play()

    def next_event(self, timeout_s: float) -> ConnectionEvent | None:
        msg = self._pipe.next_message(timeout_s)
        if msg is None:
            return None
        if self._pipe.is_error(msg):
            return Failed(self._callback_error or self._stream_problem or self._pipe.error_from(msg))
        if self._pipe.is_eos(msg):
            return EndOfStream()
        return None  # a wake message

    def seek_to_start(self) -> bool:
        return self._pipe.seek_to_start()

    def stream_note(self) -> str | None:
        if not self._rtsp_encoding:
            return None
        codec = _RTP_CODECS[self._rtsp_encoding]
        return f"RTSP video is {self._rtsp_encoding}, decoded by {self._decoders[codec]}"

    def wake(self) -> None:
        self._pipe.wake()

    def close(self) -> None:
        self._pipe.close()

    # ---- GStreamer threads --------------------------------------------------------

    def _on_select_stream(self, _src, _num, caps) -> bool:
        """Set up only the video stream, and only when a branch can decode it."""
        structure = caps.get_structure(0)
        if structure.get_string("media") != "video":
            return False
        encoding = (structure.get_string("encoding-name") or "").upper()
        codec = _RTP_CODECS.get(encoding)
        if codec is None or codec not in self._decoders:
            usable = ", ".join(f"{c.upper()} ({d})" for c, d in self._decoders.items())
            self._stream_problem = DecodeError(
                f"RTSP video from {self._source_name} is {encoding or 'of unknown encoding'}; "
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
            buffer = sample.get_buffer()
            delivered = self._frames.deliver(lambda: self._pictures.picture(sample), pts_seconds(buffer),
                                             lambda: self._capture_clock.capture_ts(buffer))
            return Gst.FlowReturn.FLUSHING if delivered is Delivery.CANCELLED else Gst.FlowReturn.OK
        except CaptureError as exc:
            self._callback_error = exc
        except Exception as exc:  # never let an exception escape into GStreamer's thread
            # Not logged here: logging from a GStreamer thread registers a Python thread
            # object that is never freed.  The session thread reports it.
            self._callback_error = HandoverFailed(f"frame hand-over failed: {exc!r}")
            self._callback_error.__cause__ = exc
        return Gst.FlowReturn.ERROR
