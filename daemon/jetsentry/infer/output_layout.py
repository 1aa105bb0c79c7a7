"""Which of the two Ultralytics detection outputs a model has, told by the output's shape.

* ``anchors`` ``[B, 4+C, N]``: per anchor cx, cy, w, h in input pixels, then C class
  scores; NMS picks the detections (YOLOv8, YOLO11, and YOLO26/YOLOv10 exported with
  their one-to-many head, Ultralytics' default ``nms=None``).
* ``detections`` ``[B, K, 6]``: K final detections x1, y1, x2, y2, score, class in input
  pixels, best first, unused rows scored 0; only the confidence and class filters apply
  (YOLO26 and YOLOv10 exported NMS-free with ``nms=False``/``end2end=True``, and any
  detector exported with ``nms=True``, which puts NMS inside the graph).

The shape decides, not the ``end2end`` metadata: Ultralytics writes ``end2end: False``
into ``nms=True`` exports, whose output is ``[B, 300, 6]``.  Segmentation, pose and OBB
models have other outputs and are out of scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from jetsentry.infer.errors import ModelError

OutputLayout = Literal["anchors", "detections"]
ANCHORS: OutputLayout = "anchors"
DETECTIONS: OutputLayout = "detections"
DETECTION_FIELDS = 6  # x1, y1, x2, y2, score, class

_OUT_OF_SCOPE = "segmentation, pose and OBB models are not supported"


def layout_of(dims: Sequence[int | None], num_classes: int, what: str) -> OutputLayout | None:
    """The layout of an output of shape ``dims`` (None: a dynamic dimension) for a model
    naming ``num_classes`` classes; None when dynamic dimensions leave it open (a test run
    decides).  ModelError naming the shape for anything else."""
    if len(dims) != 3:
        raise ModelError(f"{what} has shape {format_dims(dims)}; a detection model's output is [B, 4+C, N] "
                         f"or [B, K, 6] ({_OUT_OF_SCOPE})")
    _, rows, columns = dims
    anchors = rows == 4 + num_classes
    detections = columns == DETECTION_FIELDS
    if anchors and detections:
        raise ModelError(f"{what} has shape {format_dims(dims)}: with {num_classes} classes both [B, 4+C, N] and "
                         "[B, K, 6] fit it, so the layout cannot be told apart")
    if anchors:
        return ANCHORS
    if detections:
        return DETECTIONS
    if rows is None or columns is None:
        return None
    raise ModelError(
        f"{what} has shape {format_dims(dims)}: {rows} channels but the model names {num_classes} classes; "
        f"a detection head has 4 + {num_classes} = {4 + num_classes} channels ([B, 4+C, N]), or 6 values per "
        f"detection ([B, K, 6]) (the 'names' metadata does not match the model, or {_OUT_OF_SCOPE})"
    )


def format_dims(dims: Sequence[int | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"
