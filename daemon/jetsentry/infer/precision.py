"""The numeric precision of an ONNX model file: fp32, fp16, or int8 (quantized, QDQ)."""

from __future__ import annotations

from typing import Literal

import onnx

Precision = Literal["fp32", "fp16", "int8"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "fp16", "int8")
_QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})


def model_precision(model: onnx.ModelProto) -> Precision:
    """int8 when the graph holds QuantizeLinear/DequantizeLinear (explicit quantization);
    fp16 when most float weights are float16; fp32 otherwise."""
    if any(node.op_type in _QDQ_OPS for node in model.graph.node):
        return "int8"
    halves = sum(1 for init in model.graph.initializer if init.data_type == onnx.TensorProto.FLOAT16)
    singles = sum(1 for init in model.graph.initializer if init.data_type == onnx.TensorProto.FLOAT)
    return "fp16" if halves > singles else "fp32"
