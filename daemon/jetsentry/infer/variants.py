"""Which file of a model a backend runs: the FP32, FP16 or INT8 variant.

``model.path`` names one file (of any precision, read from the file); ``model.variants`` may
name the others.  ``model.precision: auto`` takes the first variant present in the backend's
order of preference, an explicit precision takes that variant or fails naming what is there.
A backend not listed here prefers fp32, then fp16, then int8; one that is added later gives
its order to ``choose_variant`` (or registers it in ``PREFERENCE``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import onnx
from google.protobuf.message import DecodeError

from jetsentry.infer.errors import ModelError
from jetsentry.infer.precision import PRECISIONS, Precision, model_precision

if TYPE_CHECKING:
    from jetsentry.config.models import ModelConfig

# Per backend, the precisions in the order it runs them best.  CPU: INT8 runs on ONNX Runtime's
# integer kernels (docs/PERFORMANCE.md), FP16 has no fast CPU kernels.  CUDA: ONNX Runtime's
# CUDA provider runs FP16 on tensor cores but a QDQ model's convolutions in float after
# dequantizing.  TensorRT: explicit INT8 (QDQ), then FP16.
PREFERENCE: dict[str, tuple[Precision, ...]] = {
    "onnxruntime-cpu": ("int8", "fp32", "fp16"),
    "onnxruntime-cuda": ("fp16", "fp32", "int8"),
    "onnxruntime-tensorrt": ("int8", "fp16", "fp32"),
    "tensorrt": ("int8", "fp16", "fp32"),
}
_OTHER_BACKENDS: tuple[Precision, ...] = ("fp32", "fp16", "int8")


@dataclass(frozen=True)
class ModelChoice:
    path: Path
    precision: Precision
    reason: str


def file_precision(path: Path) -> Precision:
    """The precision of an ONNX file (ModelError when it is not one)."""
    try:
        return model_precision(onnx.load(str(path), load_external_data=False))
    except (OSError, DecodeError, ValueError, RuntimeError) as exc:
        raise ModelError(f"model file {path} cannot be read as an ONNX model: {exc}") from None


def choose_variant(
    path: Path,
    variants: Mapping[str, Path],
    *,
    backend: str,
    precision: str = "auto",
    preference: Sequence[Precision] | None = None,
) -> ModelChoice:
    """The file ``backend`` should run among ``path`` and ``variants`` ({precision: file}).

    Each variant's file must hold the precision it is listed under (ModelError otherwise).
    """
    files: dict[str, Path] = {}
    for name, file in variants.items():
        found = file_precision(file)
        if found != name:
            raise ModelError(f"model.variants.{name} names {file}, which is a {found} model")
        files[name] = file
    own = file_precision(path)
    if own in files and Path(files[own]).resolve() != Path(path).resolve():
        raise ModelError(f"model.path {path} and model.variants.{own} {files[own]} are both {own} models")
    files.setdefault(own, path)
    if precision != "auto":
        if precision not in files:
            raise ModelError(f"model.precision {precision}: no {precision} file; model.path is {own}"
                             + (f", model.variants has {', '.join(sorted(variants))}" if variants else ""))
        return ModelChoice(Path(files[precision]), precision, "model.precision")
    order = tuple(preference) if preference is not None else PREFERENCE.get(backend, _OTHER_BACKENDS)
    chosen = next(p for p in (*order, *PRECISIONS) if p in files)
    reason = ("the only file" if len(files) == 1
              else f"{backend} prefers {' > '.join(p for p in order if p in files)}")
    return ModelChoice(Path(files[chosen]), chosen, reason)


def select_model_file(model_cfg: ModelConfig, backend: str | None = None,
                      preference: Sequence[Precision] | None = None) -> ModelChoice:
    """``choose_variant`` for a model section: the file ``backend`` (default model.backend.type) runs."""
    return choose_variant(model_cfg.path, model_cfg.variants, backend=backend or model_cfg.backend.type,
                          precision=model_cfg.precision, preference=preference)
