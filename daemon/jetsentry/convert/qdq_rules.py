"""Check a QDQ ONNX against TensorRT's rules for explicitly quantized INT8 networks (8.5 to 11).

Each rule is one function returning the violations it finds; docs/QUANTIZATION.md lists the
rules with the TensorRT documentation they come from and how jetsentry's files meet them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import numpy_helper

from jetsentry.convert.float_tail import float_tail

# Newest default-domain opset every supported TensorRT parses (TensorRT 8.5's ONNX parser
# stops at 17); per-channel QuantizeLinear/DequantizeLinear (the axis attribute) needs 13.
MIN_OPSET, MAX_OPSET = 13, 17
WEIGHTED_OPS = {"Conv": 0, "ConvTranspose": 1, "Gemm": None, "MatMul": None}  # op -> weight's output-channel axis
QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")


@dataclass(frozen=True)
class Violation:
    rule: str
    node: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.node}: {self.detail}"


class _Graph:
    def __init__(self, model: onnx.ModelProto, max_opset: int = MAX_OPSET) -> None:
        self.model = model
        self.max_opset = max_opset
        self.nodes = list(model.graph.node)
        self.initializers = {init.name: init for init in model.graph.initializer}
        self.producers = {out: node for node in self.nodes for out in node.output}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.nodes:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)

    def qdq(self) -> list[onnx.NodeProto]:
        return [node for node in self.nodes if node.op_type in QDQ_OPS]

    def array(self, name: str) -> np.ndarray | None:
        init = self.initializers.get(name)
        return None if init is None else numpy_helper.to_array(init)

    def is_weight_dq(self, node: onnx.NodeProto) -> bool:
        return node.op_type == "DequantizeLinear" and node.input[0] in self.initializers


def _axis(node: onnx.NodeProto) -> int:
    return next((a.i for a in node.attribute if a.name == "axis"), 1)


def _opset(g: _Graph) -> list[Violation]:
    versions = [o.version for o in g.model.opset_import if o.domain in ("", "ai.onnx")]
    if not versions or not MIN_OPSET <= versions[0] <= g.max_opset:
        return [Violation("opset", "model", f"default-domain opset {versions or 'none'}, needs {MIN_OPSET}..{g.max_opset}")]
    return []


def _standard_domain(g: _Graph) -> list[Violation]:
    return [Violation("standard Q/DQ", node.name, f"domain {node.domain!r} (a contrib op TensorRT does not parse)")
            for node in g.nodes if node.op_type in QDQ_OPS and node.domain not in ("", "ai.onnx")]


def _int8_zero_points(g: _Graph) -> list[Violation]:
    found = []
    for node in g.qdq():
        zero_point = g.initializers.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if zero_point is None:
            found.append(Violation("INT8 zero point 0", node.name, "no zero-point initializer (defaults to uint8)"))
        elif zero_point.data_type != onnx.TensorProto.INT8:
            found.append(Violation("INT8 zero point 0", node.name,
                                   f"zero point is {onnx.TensorProto.DataType.Name(zero_point.data_type)}"))
        elif np.any(numpy_helper.to_array(zero_point) != 0):
            found.append(Violation("INT8 zero point 0", node.name, "non-zero zero point (asymmetric)"))
    return found


def _constant_positive_scales(g: _Graph) -> list[Violation]:
    found = []
    for node in g.qdq():
        scale = g.initializers.get(node.input[1])
        if scale is None:
            found.append(Violation("constant positive scale", node.name, "scale is not an initializer"))
            continue
        if scale.data_type != onnx.TensorProto.FLOAT:
            found.append(Violation("constant positive scale", node.name,
                                   f"scale is {onnx.TensorProto.DataType.Name(scale.data_type)}, not FLOAT"))
        values = numpy_helper.to_array(scale)
        if values.ndim > 1 or not np.all(np.isfinite(values)) or not np.all(values > 0):
            found.append(Violation("constant positive scale", node.name, f"scale shape {values.shape}, "
                                   f"min {values.min() if values.size else 'empty'}: needs finite values > 0, 0-D or 1-D"))
    return found


def _per_tensor_activations(g: _Graph) -> list[Violation]:
    found = []
    for node in g.qdq():
        scale = g.array(node.input[1])
        if g.is_weight_dq(node) or scale is None:
            continue
        if scale.size != 1:
            found.append(Violation("per-tensor activations", node.name, f"{scale.size} scales on an activation"))
    return found


def _per_channel_weights(g: _Graph) -> list[Violation]:
    """Weights: INT8 in [-127, 127], through one DequantizeLinear straight into a weighted op,
    per channel on the output-channel axis (or per tensor)."""
    found = []
    for node in g.nodes:
        if not g.is_weight_dq(node):
            continue
        weights, scale = g.array(node.input[0]), g.array(node.input[1])
        users = g.consumers.get(node.output[0], [])
        if weights.dtype != np.int8:
            found.append(Violation("INT8 weights", node.name, f"weights are {weights.dtype}"))
            continue
        if weights.size and weights.min() < -127:
            found.append(Violation("INT8 weights", node.name, "weights use -128 (TensorRT's weight range is ±127)"))
        if not users or any(u.op_type not in WEIGHTED_OPS or list(u.input).index(node.output[0]) != 1 for u in users):
            found.append(Violation("weights into weighted ops", node.name,
                                   f"feeds {[u.op_type for u in users]}, not the weight input of Conv/Gemm/MatMul"))
            continue
        if scale is not None and scale.size > 1:
            axis = WEIGHTED_OPS[users[0].op_type]
            expected = weights.shape[axis] if axis is not None else None
            if axis is None or _axis(node) != axis or scale.size != expected:
                found.append(Violation("per-channel weights", node.name, f"axis {_axis(node)} with {scale.size} "
                                       f"scales for weights {list(weights.shape)}; needs axis {axis}"))
    return found


def _float_bias(g: _Graph) -> list[Violation]:
    found = []
    for node in g.nodes:
        if node.op_type in WEIGHTED_OPS and len(node.input) > 2 and node.input[2]:
            producer = g.producers.get(node.input[2])
            if producer is not None and producer.op_type == "DequantizeLinear":
                found.append(Violation("float bias", node.name, "bias comes through a DequantizeLinear (INT32 bias)"))
    return found


def _activation_pairs(g: _Graph) -> list[Violation]:
    """Each activation QuantizeLinear feeds DequantizeLinear nodes with its scale and zero point,
    and every non-weight DequantizeLinear reads a QuantizeLinear's output."""
    found = []
    for node in g.qdq():
        if node.op_type == "QuantizeLinear":
            users = g.consumers.get(node.output[0], [])
            if not users or any(u.op_type != "DequantizeLinear" or list(u.input[1:3]) != list(node.input[1:3])
                                for u in users):
                found.append(Violation("Q/DQ pairs", node.name, "not followed only by DequantizeLinear nodes "
                                       "with the same scale and zero point"))
        elif not g.is_weight_dq(node):
            producer = g.producers.get(node.input[0])
            if producer is None or producer.op_type != "QuantizeLinear":
                found.append(Violation("Q/DQ pairs", node.name, "dequantizes a tensor no QuantizeLinear produced"))
    return found


def _float_tensors_only(g: _Graph) -> list[Violation]:
    """QuantizeLinear takes float tensors only (never a shape or index tensor); types from ONNX
    shape inference (a graph it cannot type is left to the other rules)."""
    try:
        typed = onnx.shape_inference.infer_shapes(g.model)
    except Exception:  # onnx raises its own inference errors
        return []
    types = {v.name: v.type.tensor_type.elem_type for v in (*typed.graph.value_info, *typed.graph.input)}
    types |= {init.name: init.data_type for init in g.model.graph.initializer}
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16}
    return [Violation("float tensors only", node.name, f"quantizes {node.input[0]!r} of type "
                      f"{onnx.TensorProto.DataType.Name(types[node.input[0]])}")
            for node in g.nodes if node.op_type == "QuantizeLinear"
            and types.get(node.input[0], onnx.TensorProto.FLOAT) not in floats]


def _float_head(g: _Graph) -> list[Violation]:
    """jetsentry's own rule: the head's final convolutions and everything after them compute in
    float: no weight of theirs is quantized and no tensor between them passes a Q/DQ pair
    (what enters the tail from the quantized trunk may arrive dequantized)."""
    tail = float_tail(g.model)
    found = []
    if not tail.final_convs:
        found.append(Violation("float head", "model", "no final convolution found before the outputs"))
    for node in g.nodes:
        if node.name not in tail.nodes or node.op_type in QDQ_OPS:
            continue
        for name in node.input:
            dq = g.producers.get(name)
            if dq is None or dq.op_type != "DequantizeLinear":
                continue
            if g.is_weight_dq(dq):
                found.append(Violation("float head", node.name, f"weight {dq.input[0]!r} is INT8"))
                continue
            quantize = g.producers.get(dq.input[0])
            source = g.producers.get(quantize.input[0]) if quantize is not None else None
            if source is not None and source.name in tail.nodes:
                found.append(Violation("float head", node.name, f"input {name!r} is quantized inside the head"))
    return found


RULES: tuple[Callable[[_Graph], list[Violation]], ...] = (
    _opset, _standard_domain, _int8_zero_points, _constant_positive_scales, _per_tensor_activations,
    _per_channel_weights, _float_bias, _activation_pairs, _float_tensors_only, _float_head,
)


def check_explicit_quantization(model: onnx.ModelProto, max_opset: int = MAX_OPSET) -> list[Violation]:
    """Every violation of the rules; an empty list for a file TensorRT's explicit quantization takes.
    ``max_opset`` above 17 checks for TensorRT 10 and 11 only (which parse newer opsets)."""
    graph = _Graph(model, max_opset)
    if not graph.qdq():
        return [Violation("quantized", "model", "no QuantizeLinear/DequantizeLinear nodes")]
    return [violation for rule in RULES for violation in rule(graph)]
