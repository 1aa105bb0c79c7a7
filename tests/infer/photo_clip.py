"""An H.264 clip made from real photographs, for comparing whole-pipeline detections with Ultralytics."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from tests.infer.photos import fit_to_frame, load_photos, mosaic


def photo_frames(width: int, height: int) -> list[np.ndarray]:
    """One frame per photo (scaled to fit, centred on black), then two 2x2 mosaics of them."""
    photos = load_photos()
    if not photos:
        return []
    frames = [fit_to_frame(photo, width, height) for photo in photos]
    frames.append(mosaic(photos[:4], width, height))
    frames.append(mosaic(photos[4:8] or photos[:4], width, height))
    return frames


def make_photo_clip(
    path: str | Path, width: int = 1280, height: int = 720, frames_per_photo: int = 3, fps: int = 15
) -> Path:
    """Encode ``photo_frames`` as an H.264 MP4, each frame repeated ``frames_per_photo`` times.

    High quality (constant quantizer 10) so decoded frames stay close to the photos.
    Raises RuntimeError when no photos are installed or the encoder fails.
    """
    if width % 2 or height % 2:
        raise ValueError(f"H.264 4:2:0 needs even frame sizes, got {width}x{height}")
    frames = photo_frames(width, height)
    if not frames:
        raise RuntimeError("no test photos: install ultralytics or scikit-image")
    launcher = shutil.which("gst-launch-1.0")
    if launcher is None:
        raise RuntimeError("gst-launch-1.0 not found (install gstreamer1.0-tools)")
    path = Path(path)
    pipeline = [
        "fdsrc", "fd=0",
        "!", "rawvideoparse", f"width={width}", f"height={height}", "format=bgr", f"framerate={fps}/1",
        "!", "videoconvert", "!", "video/x-raw,format=I420",
        "!", "x264enc", "pass=quant", "quantizer=10", "speed-preset=faster", f"key-int-max={2 * fps}",
        "!", "video/x-h264,profile=high", "!", "h264parse", "!", "mp4mux",
        "!", "filesink", f"location={path}",
    ]  # fmt: skip
    process = subprocess.Popen(
        [launcher, "-e", "-q", *pipeline], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        for frame in frames:
            data = np.ascontiguousarray(frame).tobytes()
            for _ in range(frames_per_photo):
                process.stdin.write(data)
    finally:
        process.stdin.close()
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.wait(timeout=120) != 0 or not path.is_file() or path.stat().st_size == 0:
        raise RuntimeError(f"encoding {path} failed: {stderr.strip()}")
    return path
