"""H.264-in-MP4 writer through GStreamer (appsrc ! videoconvert ! x264enc ! h264parse ! mp4mux).

The only module of the generator that needs GStreamer (through capture/gst.py), so rendering works without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

QUANTIZER = 21  # constant-quality level (x264 pass=qual), like CRF 21: visually clean at 640x360
SPEED_PRESET = "medium"
KEYFRAME_SECONDS = 2


class EncoderError(RuntimeError):
    pass


class H264Mp4Writer:
    """Write BGR uint8 frames of a fixed size to an MP4 file; call close() to finish it."""

    def __init__(self, path: str | Path, width: int, height: int, fps: int) -> None:
        from jetsentry.capture.gst import gst

        Gst = gst()
        if Gst.ElementFactory.find("x264enc") is None:
            raise EncoderError("GStreamer element x264enc is missing (install gstreamer1.0-plugins-ugly)")
        self._Gst = Gst
        self.width, self.height, self.fps = width, height, fps
        self.path = Path(path)
        self._frames = 0
        location = str(self.path).replace("\\", "/").replace('"', '\\"')
        self._pipeline = Gst.parse_launch(
            f"appsrc name=src is-live=false block=true format=time max-bytes={width * height * 3 * 8} "
            f"caps=video/x-raw,format=BGR,width={width},height={height},framerate={fps}/1 "
            "! videoconvert ! video/x-raw,format=I420 "
            f"! x264enc speed-preset={SPEED_PRESET} pass=qual quantizer={QUANTIZER} "
            f"key-int-max={KEYFRAME_SECONDS * fps} "
            "! video/x-h264,profile=high ! h264parse ! mp4mux ! "
            f'filesink location="{location}"'
        )
        self._src = self._pipeline.get_by_name("src")
        if self._pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            raise EncoderError(f"cannot start the encoding pipeline for {self.path}")

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"frame must be ({self.height}, {self.width}, 3) uint8, got "
                             f"{frame.shape} {frame.dtype}")
        Gst = self._Gst
        buf = Gst.Buffer.new_wrapped(np.ascontiguousarray(frame).tobytes())
        buf.pts = self._frames * Gst.SECOND // self.fps
        buf.duration = Gst.SECOND // self.fps
        self._frames += 1
        if self._src.emit("push-buffer", buf) != Gst.FlowReturn.OK:
            self._raise_bus_error("pushing a frame failed")

    def close(self) -> int:
        """Finish the file; returns the number of frames written."""
        Gst = self._Gst
        self._src.emit("end-of-stream")
        bus = self._pipeline.get_bus()
        msg = bus.timed_pop_filtered(60 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        self._pipeline.set_state(Gst.State.NULL)
        if msg is None:
            raise EncoderError(f"encoder did not finish {self.path} within 60 s")
        if msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            raise EncoderError(f"encoding {self.path} failed: {err.message} ({debug})")
        return self._frames

    def _raise_bus_error(self, what: str) -> None:
        Gst = self._Gst
        msg = self._pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
        self._pipeline.set_state(Gst.State.NULL)
        detail = msg.parse_error()[0].message if msg is not None else "no error message"
        raise EncoderError(f"{what} for {self.path}: {detail}")

    def __enter__(self) -> "H264Mp4Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._pipeline.set_state(self._Gst.State.NULL)
