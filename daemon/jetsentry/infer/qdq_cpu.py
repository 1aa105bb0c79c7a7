"""A signed-INT8 QDQ model, as TensorRT needs it, re-expressed for ONNX Runtime's x86 CPU kernels.

The quantized files jetsentry makes use signed INT8 activations with zero point 0: the one
form TensorRT's explicit quantization accepts.  ONNX Runtime's CPU provider on x86 fuses
DequantizeLinear -> Conv -> QuantizeLinear into an integer QLinearConv only for unsigned
8-bit activations (its VNNI kernels multiply u8 by s8); with signed activations it runs a
float Conv on dequantized tensors, slower than the FP32 model (docs/QUANTIZATION.md gives the
figures).  An activation quantized to int8 with zero point z is the same number, shifted by
128, quantized to uint8 with zero point z + 128 and the same scale:
clamp(round(x / s) + z + 128, 0, 255) = clamp(round(x / s) + z, -128, 127) + 128, so the
rewritten graph computes exactly what the original defines (run unfused, the two agree bit
for bit); only ONNX Runtime's fused integer kernels then round their requantization their own
way.  Weights stay signed (the u8 x s8 kernels want them so).
"""

from __future__ import annotations

import platform

import numpy as np
import onnx
from onnx import numpy_helper

_X86 = frozenset({"x86_64", "amd64", "i386", "i686", "x86"})


def wants_unsigned_activations(machine: str | None = None) -> bool:
    """On x86, ONNX Runtime's integer convolutions need unsigned activations; ARM runs signed ones."""
    return (machine or platform.machine()).lower() in _X86


def unsigned_activations(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """A copy of ``model`` with every int8 activation zero point made uint8 (+128); None when
    the model quantizes no activation to int8."""
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    producers = {output: node for node in graph.node for output in node.output}
    activation_zero_points: set[str] = set()
    weight_zero_points: set[str] = set()
    for node in graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear") or len(node.input) < 3:
            continue
        zero_point = initializers.get(node.input[2])
        if zero_point is None or zero_point.data_type != onnx.TensorProto.INT8:
            continue
        source = node.input[0]
        is_weight = node.op_type == "DequantizeLinear" and source in initializers
        if is_weight:
            weight_zero_points.add(zero_point.name)
        elif node.op_type == "QuantizeLinear" or producers.get(source, node).op_type == "QuantizeLinear":
            activation_zero_points.add(zero_point.name)
    if not activation_zero_points:
        return None
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    shared = activation_zero_points & weight_zero_points
    for init in rewritten.graph.initializer:
        if init.name not in activation_zero_points:
            continue
        if init.name in shared:  # a weight's DequantizeLinear keeps the signed original under a new name
            _rename_weight_zero_point(rewritten.graph, init)
        values = numpy_helper.to_array(init).astype(np.int16) + 128
        init.CopyFrom(numpy_helper.from_array(values.astype(np.uint8), init.name))
    return rewritten


def _rename_weight_zero_point(graph: onnx.GraphProto, init: onnx.TensorProto) -> None:
    initializers = {i.name for i in graph.initializer}
    name = f"{init.name}_signed"
    copy = graph.initializer.add()
    copy.CopyFrom(init)
    copy.name = name
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and len(node.input) > 2 and node.input[2] == init.name \
                and node.input[0] in initializers:
            node.input[2] = name
