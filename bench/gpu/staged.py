"""What several GPU measurements start from: an ONNX Runtime CUDA detector and a batch of
decoded photographs of the clip as host NV12 frames."""

from __future__ import annotations

from pathlib import Path

from jetsentry.capture.frame import Frame
from jetsentry.config.models import ModelConfig
from jetsentry.infer import Detector, EngineOptions


def cuda_detector(model: Path, batch: int) -> Detector:
    return Detector.from_config(ModelConfig(path=model, backend={"type": "onnxruntime-cuda", "max_batch": batch}),
                                EngineOptions(max_batch=batch))


def photo_frames(clip: Path, batch: int, photos: int, camera: str) -> list[Frame]:
    """``batch`` frames cycling over ``photos`` photographs of the clip (one every 30 frames)."""
    from bench.gpu.kernel import decoded_photos

    pictures = decoded_photos(clip, photos, every=30)
    return [Frame(camera, i, pictures[i % len(pictures)], 0.0, 0.0) for i in range(batch)]
