"""The infer stage: pictures (frames, or BGR arrays) in, Detections in source pixels out, each step timed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from jetsentry.detections import Detections
from jetsentry.infer.engine import Engine, EngineOptions, create_engine, create_preprocessor
from jetsentry.infer.letterbox import Letterbox
from jetsentry.infer.model_info import ModelInfo
from jetsentry.infer.output_layout import ANCHORS
from jetsentry.infer.postprocess import PostprocessSettings, postprocess, postprocess_candidates

if TYPE_CHECKING:
    from jetsentry.config.models import ModelConfig


@dataclass(frozen=True, slots=True)
class StageTimes:
    """Milliseconds each step took for one whole batch."""

    preprocess_ms: float = 0.0
    inference_ms: float = 0.0
    postprocess_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class PreparedInput:
    """A letterboxed batch, ready for the engine: a host array, or (GPU backends) the
    engine's device input buffer."""

    tensor: Any
    boxes: list[Letterbox]
    preprocess_ms: float


class Detector:
    """Letterbox -> engine -> decode + NMS (none for a ``detections`` output) -> source pixels,
    for batches of pictures.

    The letterbox is the engine's (``create_preprocessor``): the CPU one for the CPU
    backend, the NV12 kernel for GPU backends.

    ``detect`` does it all; ``prepare`` and ``run`` split it so that one thread can
    prepare batch n+1 while another runs batch n.  At most one prepared batch may wait
    for ``run`` (the input buffers alternate between two); each method is called from
    one thread at a time.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        confidence: float = 0.25,
        iou: float = 0.7,
        max_detections: int = 300,
        classes: Sequence[int | str] = (),
        input_size: int = 640,
    ) -> None:
        if not 0.0 <= confidence <= 1.0:
            raise ValueError(f"confidence must be within 0..1, got {confidence}")
        if not 0.0 < iou <= 1.0:
            raise ValueError(f"iou must be within (0, 1], got {iou}")
        if max_detections < 1:
            raise ValueError(f"max_detections must be >= 1, got {max_detections}")
        self.engine = engine
        # Two preprocessors: a prepared batch keeps its tensor while the next is prepared.
        self._preprocessors = (create_preprocessor(engine, input_size), create_preprocessor(engine, input_size))
        self._next = 0
        self._settings = PostprocessSettings(
            confidence=confidence,
            iou=iou,
            max_detections=max_detections,
            class_ids=resolve_classes(classes, engine.info),
            num_classes=engine.info.num_classes,
        )

    @classmethod
    def from_config(cls, model_cfg: ModelConfig, options: EngineOptions | None = None) -> Detector:
        engine = create_engine(model_cfg, options)
        try:
            return cls(
                engine,
                confidence=model_cfg.confidence,
                iou=model_cfg.iou,
                max_detections=model_cfg.max_detections,
                classes=model_cfg.classes,
                input_size=model_cfg.input_size,
            )
        except Exception:
            engine.close()
            raise

    @property
    def info(self) -> ModelInfo:
        return self.engine.info

    @property
    def confidence(self) -> float:
        """The configured minimum score (model.confidence)."""
        return self._settings.confidence

    def detect(self, images: Sequence[Any]) -> tuple[list[Detections], StageTimes]:
        """Detections for each picture (a BGR array (H, W, 3) uint8, or a Frame), in order,
        and the batch's stage times."""
        if len(images) == 0:
            return [], StageTimes()
        return self.run(self.prepare(images))

    def prepare(self, images: Sequence[Any]) -> PreparedInput:
        """Letterbox a batch into a fresh input tensor (one of two alternating buffers, so the
        next batch can be prepared while this one is inferred).  Frames' pictures are read
        before this returns: they may be released afterwards."""
        start = time.perf_counter()
        preprocess = self._preprocessors[self._next]
        self._next ^= 1
        tensor, boxes = preprocess(images)
        return PreparedInput(tensor, boxes, (time.perf_counter() - start) * 1e3)

    def run(self, prepared: PreparedInput, *, confidence: float | None = None) -> tuple[list[Detections], StageTimes]:
        """Engine -> decode + NMS -> source pixels for a prepared batch.

        confidence: keep scores above this instead of the configured confidence (the
        pipeline lowers it to the tracker's low threshold while tracking).
        """
        settings = self._settings if confidence is None else replace(self._settings, confidence=confidence)
        start = time.perf_counter()
        layout = self.engine.info.output_layout
        select = getattr(self.engine, "infer_candidates", None)
        if select is not None and layout == ANCHORS:  # a GPU engine picks the anchors above the threshold on the device
            candidates = select(prepared.tensor, settings.confidence, settings.class_ids)
            inferred = time.perf_counter()
            detections = postprocess_candidates(candidates, prepared.boxes, settings)
        else:
            output = self.engine.infer(prepared.tensor)
            inferred = time.perf_counter()
            detections = postprocess(output, prepared.boxes, settings, layout)
        done = time.perf_counter()
        return detections, StageTimes(
            preprocess_ms=prepared.preprocess_ms,
            inference_ms=(inferred - start) * 1e3,
            postprocess_ms=(done - inferred) * 1e3,
        )

    def close(self) -> None:
        for preprocess in self._preprocessors:
            close = getattr(preprocess, "close", None)
            if close is not None:
                close()
        self.engine.close()

    def __enter__(self) -> Detector:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def resolve_classes(classes: Sequence[int | str], info: ModelInfo) -> np.ndarray | None:
    """Class ids (sorted, unique) for names or ids; None when ``classes`` is empty (keep all)."""
    if not classes:
        return None
    index = {name: class_id for class_id, name in enumerate(info.class_names)}
    ids = []
    for entry in classes:
        if isinstance(entry, bool) or not isinstance(entry, (int, str)):
            raise ValueError(f"model.classes entries must be class ids or names, got {entry!r}")
        if isinstance(entry, str):
            if entry not in index:
                known = ", ".join(info.class_names[:10]) + (", ..." if len(info.class_names) > 10 else "")
                raise ValueError(f"model.classes: {entry!r} is not a class of model {info.name} (classes: {known})")
            ids.append(index[entry])
        elif not 0 <= entry < info.num_classes:
            raise ValueError(
                f"model.classes: id {entry} is out of range for model {info.name} with {info.num_classes} classes"
            )
        else:
            ids.append(entry)
    return np.unique(np.asarray(ids, dtype=np.int64))
