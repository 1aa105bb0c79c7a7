"""Letterbox preprocessing, pixel-for-pixel equal to Ultralytics' ``LetterBox`` for inference.

Aspect-preserving resize (``cv2.INTER_LINEAR``, upscaling allowed), centred, padded
with grey 114, borders split with Ultralytics' ``round(d/2 - 0.1)`` / ``round(d/2 + 0.1)``.

- Static height/width: the image is fitted into the model's input (``auto=False``).
- Dynamic height/width: the smallest stride-aligned rectangle whose longest side is
  ``input_size`` (Ultralytics' ``auto=True`` minimum rectangle).  All images of one
  batch must share one shape, so a batch uses the largest rectangle of its images
  (element-wise max of height and width) and the smaller ones get extra padding,
  still centred.  Each image keeps the scale its own rectangle gives it, so a batch
  of same-size frames gives exactly Ultralytics' rectangle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114


@dataclass(frozen=True, slots=True)
class Letterbox:
    """Where one source image sits inside the network input."""

    source_hw: tuple[int, int]
    input_hw: tuple[int, int]
    resized_wh: tuple[int, int]
    left: int
    top: int
    right: int
    bottom: int

    @property
    def gain_x(self) -> float:
        return self.resized_wh[0] / self.source_hw[1]

    @property
    def gain_y(self) -> float:
        return self.resized_wh[1] / self.source_hw[0]


def fit(source_hw: tuple[int, int], input_hw: tuple[int, int]) -> Letterbox:
    """Fit an image into a fixed input shape (Ultralytics ``LetterBox(auto=False)``)."""
    return _layout(source_hw, _resized_wh(source_hw, input_hw), input_hw)


def rect_fit(source_hw: tuple[int, int], input_size: int, stride: int) -> Letterbox:
    """Smallest stride-aligned rectangle for longest side ``input_size`` (``LetterBox(auto=True)``)."""
    new_w, new_h = _resized_wh(source_hw, (input_size, input_size))
    input_hw = (new_h + (input_size - new_h) % stride, new_w + (input_size - new_w) % stride)
    return _layout(source_hw, (new_w, new_h), input_hw)


def plan_batch(
    source_shapes: Sequence[tuple[int, int]],
    *,
    input_hw: tuple[int, int] | None,
    input_size: int,
    stride: int,
) -> list[Letterbox]:
    """Letterboxes of one batch, all with the same input shape.

    ``input_hw`` is the model's static (h, w), or None for a dynamic model, which
    then gets the largest rectangle of the batch.
    """
    if input_hw is not None:
        return [fit(shape, input_hw) for shape in source_shapes]
    rects = [rect_fit(shape, input_size, stride) for shape in source_shapes]
    batch_hw = (max(r.input_hw[0] for r in rects), max(r.input_hw[1] for r in rects))
    return [r if r.input_hw == batch_hw else _layout(r.source_hw, r.resized_wh, batch_hw) for r in rects]


def letterbox_into(image: np.ndarray, box: Letterbox, canvas: np.ndarray) -> None:
    """Resize ``image`` (H, W, 3 uint8) into ``canvas`` (input h, w, 3 uint8) and pad it, in place."""
    new_w, new_h = box.resized_wh
    canvas[: box.top] = PAD_VALUE
    canvas[box.top + new_h :] = PAD_VALUE
    canvas[box.top : box.top + new_h, : box.left] = PAD_VALUE
    canvas[box.top : box.top + new_h, box.left + new_w :] = PAD_VALUE
    inner = canvas[box.top : box.top + new_h, box.left : box.left + new_w]
    if (new_w, new_h) == (image.shape[1], image.shape[0]):
        np.copyto(inner, image)
        return
    resized = cv2.resize(image, (new_w, new_h), dst=inner, interpolation=cv2.INTER_LINEAR)
    if resized is not inner:  # OpenCV allocated instead of writing into the view
        np.copyto(inner, resized)


def to_tensor(canvas: np.ndarray, out: np.ndarray) -> np.ndarray:
    """[B, H, W, 3] uint8 BGR -> ``out`` [B, 3, H, W] float32 RGB in 0..1.

    Divides rather than multiplying by 1/255, as Ultralytics does, so values match bit for bit.
    """
    np.divide(canvas.transpose(0, 3, 1, 2)[:, ::-1], np.float32(255), out=out)
    return out


def _resized_wh(source_hw: tuple[int, int], target_hw: tuple[int, int]) -> tuple[int, int]:
    h, w = source_hw
    r = min(target_hw[0] / h, target_hw[1] / w)
    return max(round(w * r), 1), max(round(h * r), 1)  # thin images keep at least 1 pixel


def _layout(source_hw: tuple[int, int], resized_wh: tuple[int, int], input_hw: tuple[int, int]) -> Letterbox:
    dw = (input_hw[1] - resized_wh[0]) / 2
    dh = (input_hw[0] - resized_wh[1]) / 2
    return Letterbox(
        source_hw=(int(source_hw[0]), int(source_hw[1])),
        input_hw=(int(input_hw[0]), int(input_hw[1])),
        resized_wh=resized_wh,
        left=round(dw - 0.1),
        top=round(dh - 0.1),
        right=round(dw + 0.1),
        bottom=round(dh + 0.1),
    )
