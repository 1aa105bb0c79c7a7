"""CPU batch preprocessing: BGR pictures (or frames) -> one letterboxed float32 tensor, into reused buffers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from jetsentry.infer.letterbox import Letterbox, letterbox_into, plan_batch, to_tensor
from jetsentry.infer.model_info import ModelInfo

if TYPE_CHECKING:  # capture (and its config imports) stays out of the GPU check script's imports
    from jetsentry.capture.frame import Frame


class Preprocessor:
    """Letterboxes a batch of BGR pictures for one model; a Frame gives its ``image``
    (converted from its captured picture on first use).

    The returned tensor is a buffer reused by the next call with the same shape:
    run inference on it before preprocessing the next batch.
    """

    def __init__(self, info: ModelInfo, input_size: int) -> None:
        if info.dynamic_hw and input_size % info.stride:
            raise ValueError(f"model.input_size {input_size} must be a multiple of the model stride {info.stride}")
        self._static_hw = None if info.dynamic_hw else (info.input_height, info.input_width)
        self._input_size = input_size
        self._stride = info.stride
        self._canvas = np.empty((0, 0, 0, 3), np.uint8)
        self._tensor = np.empty((0, 3, 0, 0), np.float32)

    def __call__(self, pictures: Sequence[np.ndarray | Frame]) -> tuple[np.ndarray, list[Letterbox]]:
        if not pictures:
            raise ValueError("no images to preprocess")
        images = [getattr(p, "image", p) for p in pictures]  # a Frame gives its picture
        for index, image in enumerate(images):
            if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                what = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
                raise ValueError(f"image {index} must be a uint8 BGR array (H, W, 3), got {what}")
            if image.shape[0] == 0 or image.shape[1] == 0:
                raise ValueError(f"image {index} is empty: {image.shape}")
        boxes = plan_batch(
            [image.shape[:2] for image in images],
            input_hw=self._static_hw,
            input_size=self._input_size,
            stride=self._stride,
        )
        height, width = boxes[0].input_hw
        canvas = self._buffers(len(images), height, width)
        for image, box, slot in zip(images, boxes, canvas):
            letterbox_into(image, box, slot)
        return to_tensor(canvas, self._tensor), boxes

    def _buffers(self, batch: int, height: int, width: int) -> np.ndarray:
        if self._canvas.shape != (batch, height, width, 3):
            self._canvas = np.empty((batch, height, width, 3), np.uint8)
            self._tensor = np.empty((batch, 3, height, width), np.float32)
        return self._canvas
