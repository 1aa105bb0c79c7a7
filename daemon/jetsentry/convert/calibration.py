"""Calibration frames for static quantization, letterboxed exactly as at inference.

A source is a video file, a folder of images, or a daemon configuration (frames from its
enabled cameras); several sources give an equal share each.  Frames are spread evenly over
each source, letterboxed by the infer stage's
own Preprocessor (the model's static input, or the stride-aligned rectangle for
``input_size``), and kept as uint8 RGB NCHW: ``x / 255`` is then bit for bit the tensor the
engine is fed.  The SHA-256 of those bytes, in order, identifies the calibration data.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from jetsentry.infer.model_info import ModelInfo
from jetsentry.infer.preprocess import Preprocessor

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
CONFIG_SUFFIXES = frozenset({".yaml", ".yml"})
LIVE_FRAME_INTERVAL_S = 1.0  # a live camera's calibration frames are this far apart, so they show some change
LIVE_TIMEOUT_FACTOR = 3.0  # a live camera gets 3 x the time its frames need at that interval (at least 30 s)


class CalibrationError(ValueError):
    """The calibration source is missing, empty, unreadable or has fewer frames than asked."""


@dataclass(frozen=True)
class CalibrationSet:
    """Letterboxed samples, uint8 RGB [1, 3, h, w] each, and what identifies them."""

    samples: list[np.ndarray]
    sha256: str
    source: str

    def __len__(self) -> int:
        return len(self.samples)

    def tensors(self) -> Iterator[np.ndarray]:
        """The float32 0..1 tensors the engine would be fed, one by one."""
        for sample in self.samples:
            yield np.divide(sample, np.float32(255), dtype=np.float32)


def load_calibration(sources: Path | Sequence[Path], info: ModelInfo, samples: int, *, input_size: int = 640,
                     decoder: str = "auto") -> CalibrationSet:
    """``samples`` frames of ``sources`` (an equal share from each), letterboxed for the model
    ``info`` describes."""
    sources = [sources] if isinstance(sources, Path) else list(sources)
    if samples < 1:
        raise CalibrationError(f"--samples must be >= 1, got {samples}")
    if not sources:
        raise CalibrationError("no calibration source given")
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        raise CalibrationError(f"calibration source {', '.join(missing)} does not exist")
    shares = [samples // len(sources) + (1 if i < samples % len(sources) else 0) for i in range(len(sources))]
    preprocess = Preprocessor(info, input_size)
    letterboxed = []
    digest = hashlib.sha256()
    for source, share in zip(sources, shares):
        for frame in _source_frames(source, share, decoder) if share else ():
            tensor, _ = preprocess([frame])
            sample = np.rint(tensor * np.float32(255)).astype(np.uint8)
            digest.update(sample.tobytes())
            letterboxed.append(sample)
    return CalibrationSet(letterboxed, digest.hexdigest(), ", ".join(map(str, sources)))


def _source_frames(source: Path, samples: int, decoder: str) -> list[np.ndarray]:
    if source.is_dir():
        return _image_frames(source, samples)
    if source.suffix.lower() in CONFIG_SUFFIXES:
        return _config_frames(source, samples, decoder)
    return _spread(_video_frames(source, decoder), samples, _declared_frames(source, decoder), str(source))


def _image_frames(folder: Path, samples: int) -> list[np.ndarray]:
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise CalibrationError(f"calibration folder {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if len(paths) < samples:
        raise CalibrationError(f"calibration folder {folder} holds {len(paths)} images, fewer than the "
                               f"{samples} samples asked for (--samples)")
    frames = []
    for path in (paths[i] for i in _evenly(len(paths), samples)):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise CalibrationError(f"calibration image {path} cannot be read as an image")
        frames.append(image)
    return frames


def _video_frames(path: Path, decoder: str) -> Iterator[np.ndarray]:
    from jetsentry.capture.errors import CaptureError
    from jetsentry.capture.reader import VideoFileReader

    try:
        reader = VideoFileReader(path, camera_id="calibration", decoder=decoder)
        for frame in reader:
            yield frame.image
    except CaptureError as exc:
        raise CalibrationError(f"calibration video {path}: {exc}") from None


def _declared_frames(path: Path, decoder: str) -> int | None:
    from jetsentry.capture.errors import CaptureError
    from jetsentry.capture.probe import probe_video_file

    try:
        return probe_video_file(path).frame_count
    except CaptureError as exc:
        raise CalibrationError(f"calibration video {path}: {exc}") from None


def _spread(frames: Iterable[np.ndarray], samples: int, declared: int | None, what: str) -> list[np.ndarray]:
    """``samples`` frames spread evenly over ``frames``.

    With a declared frame count the frames at evenly spaced indices are kept; without one,
    every step-th frame is kept and the step doubles (dropping every other kept frame)
    whenever twice ``samples`` are held, so memory stays bounded and the spread even.
    """
    if declared:
        wanted = set(_evenly(declared, samples)) if declared >= samples else None
        kept = [frame for index, frame in enumerate(frames) if wanted is None or index in wanted]
    else:
        kept, step = [], 1
        for index, frame in enumerate(frames):
            if index % step == 0:
                kept.append(frame)
                if len(kept) == 2 * samples:
                    kept, step = kept[::2], step * 2
        if len(kept) > samples:
            kept = [kept[i] for i in _evenly(len(kept), samples)]
    if not kept:
        raise CalibrationError(f"calibration source {what} yielded no frames")
    if len(kept) < samples:
        raise CalibrationError(f"calibration source {what} yielded {len(kept)} frames, fewer than the "
                               f"{samples} samples asked for (--samples)")
    return kept


def _evenly(count: int, samples: int) -> list[int]:
    """``samples`` distinct indices spread evenly over range(count) (count >= samples)."""
    return sorted({int(i) for i in np.linspace(0, count - 1, samples).round()}) if samples > 1 else [0]


def _config_frames(path: Path, samples: int, decoder: str) -> list[np.ndarray]:
    """Frames from the enabled cameras of a daemon configuration, an equal share from each."""
    from jetsentry.config import load_config
    from jetsentry.config.source_uri import parse_source_uri

    cfg = load_config(path)  # ConfigError: the command reports it with the field's path
    cameras = [camera for camera in cfg.cameras if camera.enabled]
    if not cameras:
        raise CalibrationError(f"calibration config {path} has no enabled camera")
    share = math.ceil(samples / len(cameras))
    frames: list[np.ndarray] = []
    for camera in cameras:
        source = parse_source_uri(camera.source)
        what = f"camera {camera.id!r} of {path}"
        if source.kind == "file":
            video = Path(source.path)
            frames += _spread(_video_frames(video, camera.decoder or decoder), share,
                              _declared_frames(video, camera.decoder or decoder), what)
        else:
            frames += _live_frames(camera, cfg.capture, share, what)
    return frames[:samples] if len(frames) > samples else frames


def _live_frames(camera, capture, count: int, what: str, *, interval_s: float = LIVE_FRAME_INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> list[np.ndarray]:
    """``count`` frames of a live camera, ``interval_s`` apart, through the daemon's own session."""
    from jetsentry.capture.session import CameraSession
    from jetsentry.capture.slot import LatestFrameSlot

    slot = LatestFrameSlot()
    session = CameraSession(camera, capture, slot)
    timeout_s = max(30.0, count * interval_s * LIVE_TIMEOUT_FACTOR)
    frames: list[np.ndarray] = []
    session.start()
    try:
        started = last = clock()
        while len(frames) < count and clock() - started < timeout_s:
            time.sleep(0.05)
            if clock() - last < interval_s and frames:
                continue
            frame = slot.take()
            if frame is not None:
                frames.append(frame.image)
                last = clock()
    finally:
        session.stop()
    if len(frames) < count:
        reason = f": {session.last_error}" if session.last_error else ""
        raise CalibrationError(f"{what} delivered {len(frames)} of {count} calibration frames in "
                               f"{timeout_s:.0f} s{reason}")
    return frames
