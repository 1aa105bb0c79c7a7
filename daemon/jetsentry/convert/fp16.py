"""FP16 models: weights and compute in float16, input and output kept float32.

For strongly typed TensorRT networks (10.x, 11.x: the precision of each layer is the
precision of its tensors in the file) and GPUs where FP16 beats INT8.  ONNX Runtime ships
the converter (``onnxruntime.transformers.float16``, the converter of onnxconverter-common),
which casts the float32 input to float16 at the start and the output back at the end and
keeps operators without float16 kernels (its default block list) in float32.  With
``head="fp32"`` the head's final convolutions and the box decoding after them
(convert/float_tail.py) stay float32 too; docs/QUANTIZATION.md measures both, and the default
converts the head as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import onnx

from jetsentry.convert.float_tail import float_tail, name_unnamed_nodes
from jetsentry.convert.files import ConversionError, save_atomically, stamp_metadata
from jetsentry.infer.model_info import ModelInfo

HeadPrecision = Literal["fp16", "fp32"]
DEFAULT_HEAD: HeadPrecision = "fp16"  # measured no better with the head in float32 (docs/QUANTIZATION.md)


@dataclass(frozen=True)
class Fp16Result:
    path: Path
    float32_nodes: int
    metadata: dict[str, str]


def convert_to_fp16(model_path: Path, out: Path, *, head: HeadPrecision = DEFAULT_HEAD) -> Fp16Result:
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    info = ModelInfo.from_onnx(model_path)
    if info.precision != "fp32":
        raise ConversionError(f"{model_path} is already a {info.precision} model; convert the FP32 model")
    model = onnx.load(str(model_path))
    name_unnamed_nodes(model)
    kept = sorted(float_tail(model).nodes) if head == "fp32" else []
    converted = convert_float_to_float16(model, keep_io_types=True, node_block_list=kept,
                                         op_block_list=list(DEFAULT_OP_BLOCK_LIST))
    metadata = {
        "precision": "fp16",
        "source_sha256": info.sha256,
        "converter": _converter_version(),
        "fp16_head": head,
    }
    stamp_metadata(converted, metadata)
    save_atomically(converted, out)
    return Fp16Result(out, len(kept), metadata)


def _converter_version() -> str:
    import onnxruntime

    from jetsentry import __version__

    return f"jetsentry {__version__}, onnxruntime {onnxruntime.__version__} transformers.float16"
