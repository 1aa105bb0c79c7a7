"""Small test videos made with GStreamer (real x264/x265 encodes), for capture tests."""

from __future__ import annotations

from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

Gst.init(None)

_MUXERS = {"mp4": "mp4mux", "mov": "qtmux", "mkv": "matroskamux", "ts": "mpegtsmux"}


def make_video(
    path: Path,
    *,
    codec: str = "h264",
    frames: int = 30,
    width: int = 320,
    height: int = 240,
    fps: int = 30,
    pattern: str = "smpte",
    color_argb: int | None = None,
    gop: int = 10,
    faststart: bool = False,
) -> Path:
    """Encode `frames` videotestsrc frames into `path`; the container follows the suffix.

    .mp4/.mov/.mkv/.ts are muxed; .h264/.h265 are raw byte-streams.  `color_argb` makes a
    solid-colour clip (0xAARRGGBB), whose decoded BGR value tests colour handling.
    `faststart` puts an MP4's index (moov) before the frames, as streaming recorders do:
    a truncated copy then still opens.
    """
    path = Path(path)
    suffix = path.suffix.lstrip(".")
    if color_argb is not None:
        source = f"videotestsrc num-buffers={frames} pattern=solid-color foreground-color={color_argb}"
    else:
        source = f"videotestsrc num-buffers={frames} pattern={pattern}"
    caps = f"video/x-raw,format=I420,width={width},height={height},framerate={fps}/1"
    if codec == "h264":
        # Sliced threads, not frame threads: the same bytes every run, so a damaged copy is
        # damaged the same way every run.
        encoder = (f"x264enc speed-preset=ultrafast key-int-max={gop} bframes=0 threads=4 sliced-threads=true"
                   " ! video/x-h264,profile=high")
    elif codec == "h265":
        encoder = f"x265enc speed-preset=ultrafast key-int-max={gop} option-string=log-level=0"
    elif codec == "vp8":  # a codec capture does not support
        encoder = f"vp8enc keyframe-max-dist={gop}"
    else:
        raise ValueError(f"codec {codec!r}")
    parse = f"{codec}parse" if codec != "vp8" else "identity"
    if suffix in _MUXERS:
        tail = f"{parse} ! {_MUXERS[suffix]}" + (" faststart=true" if faststart else "")
    elif suffix in ("h264", "h265", "264", "265"):
        tail = f"{parse} ! video/x-{codec},stream-format=byte-stream"
    else:
        raise ValueError(f"unknown video suffix {path.suffix!r}")
    description = f"{source} ! {caps} ! {encoder} ! {tail} ! filesink location=\"{path}\""
    _run_to_eos(description)
    return path


def truncate_file(source: Path, dest: Path, fraction: float) -> Path:
    """Copy the first `fraction` of `source` to `dest` (a truncated download/recording)."""
    data = Path(source).read_bytes()
    Path(dest).write_bytes(data[: int(len(data) * fraction)])
    return Path(dest)


def overwrite_middle(source: Path, dest: Path, size: int = 8 * 1024, seed: int = 1) -> Path:
    """A copy of `source` with `size` random bytes over its middle (a damaged sector or
    transfer): the length and the container index stay, the frames there are garbage."""
    import random

    data = bytearray(Path(source).read_bytes())
    start = len(data) // 2
    data[start : start + size] = random.Random(seed).randbytes(size)
    Path(dest).write_bytes(bytes(data))
    return Path(dest)


def garbage_file(dest: Path, size: int = 64 * 1024, seed: int = 1) -> Path:
    """Random bytes under a video file name."""
    import random

    Path(dest).write_bytes(random.Random(seed).randbytes(size))
    return Path(dest)


def _run_to_eos(description: str, timeout_s: float = 120.0) -> None:
    pipeline = Gst.parse_launch(description)
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    try:
        msg = bus.timed_pop_filtered(
            int(timeout_s * Gst.SECOND), Gst.MessageType.EOS | Gst.MessageType.ERROR
        )
        if msg is None:
            raise RuntimeError(f"timed out encoding: {description}")
        if msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            raise RuntimeError(f"encoding failed: {err.message} ({debug})")
    finally:
        pipeline.set_state(Gst.State.NULL)


def corrupt_h264_tail(source: Path, dest: Path, *, seed: int = 7, nal_units: int = 300) -> Path:
    """The first half of a raw H.264 stream, then garbage NAL units (bogus SPS/PPS/slices).

    Decoding yields the good frames, then fails mid-stream (h264parse cannot negotiate
    the bogus parameter sets): a deterministic decode error after some frames.
    """
    import random

    rng = random.Random(seed)
    data = Path(source).read_bytes()
    out = bytearray(data[: len(data) // 2])
    for _ in range(nal_units):
        payload = rng.randbytes(200).replace(b"\x00\x00", b"\x01\x01")  # no accidental start codes
        out += b"\x00\x00\x00\x01" + bytes([rng.choice((0x65, 0x41, 0x67, 0x68))]) + payload
    Path(dest).write_bytes(bytes(out))
    return Path(dest)


def opencv_frames(path: Path) -> list:
    """Every frame of a video as OpenCV decodes it (BGR), for comparisons outside the capture stage."""
    import cv2

    capture, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames
