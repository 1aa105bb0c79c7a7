"""An FP32 model made ready for static quantization.

Two steps, neither changing what the model computes:

* The opset becomes 17 when it is newer (TensorRT 8.5's ONNX parser, the oldest supported,
  stops at opset 17; onnx's version converter rewrites the operators whose form changed) or
  13 when older (per-channel Q/DQ needs 13).  Where the converter cannot (it has no adapter
  from opset 18's Split, for one), the opset stays and a warning says which TensorRT
  versions then cannot parse the file.
* ONNX Runtime's quantization pre-processing: ONNX shape inference and ONNX Runtime's basic
  graph optimizations, among them constant folding.  A convolution whose weights the graph computes
  from constants (a model stored with weights as int8 x scale, as some exporters write it) then
  gets them as initializers, which per-channel weight quantization needs.

The model's metadata is kept as it was.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx
import onnx.version_converter

from jetsentry.convert.files import ConversionError
from jetsentry.convert.float_tail import name_unnamed_nodes
from jetsentry.convert.qdq_rules import MAX_OPSET, MIN_OPSET


def prepared_for_quantization(model: onnx.ModelProto, warnings: list[str] | None = None) -> onnx.ModelProto:
    """The prepared model; what could not be done goes to ``warnings``."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    metadata = [(prop.key, prop.value) for prop in model.metadata_props]
    model = _with_supported_opset(model, warnings if warnings is not None else [])
    with tempfile.TemporaryDirectory(prefix="jetsentry-prepare-") as work:
        source, prepared = Path(work) / "source.onnx", Path(work) / "prepared.onnx"
        onnx.save(model, str(source))
        # Symbolic shape inference serves transformer graphs; on a failure it leaves a copy of the
        # model in the working directory, so it is skipped (ONNX's own shape inference still runs).
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        result = onnx.load(str(prepared))
    del result.metadata_props[:]
    for key, value in metadata:
        result.metadata_props.add(key=key, value=value)
    name_unnamed_nodes(result)
    return result


def default_opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def _with_supported_opset(model: onnx.ModelProto, warnings: list[str]) -> onnx.ModelProto:
    opset = default_opset(model)
    target = MAX_OPSET if opset > MAX_OPSET else MIN_OPSET if opset < MIN_OPSET else None
    if target is None:
        return model
    try:
        return onnx.version_converter.convert_version(model, target)
    except Exception as exc:  # the converter raises its own C++ error types
        if opset < MIN_OPSET:
            raise ConversionError(f"the model's opset {opset} cannot be converted to {target} ({exc}); "
                                  f"export it with opset={MAX_OPSET}") from None
        reason = str(exc).rsplit(":", 1)[-1].strip()
        warnings.append(f"the model keeps opset {opset} (no conversion to {target}: {reason}); TensorRT 10 and 11 "
                        f"parse it, TensorRT 8.5 and 8.6 (JetPack 5.1, 6.0) stop at opset {MAX_OPSET}: export the "
                        f"model with opset={MAX_OPSET} for those")
        return model
