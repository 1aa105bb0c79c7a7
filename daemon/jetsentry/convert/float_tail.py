"""The part of a YOLO detection graph that stays in float: the head's final convolutions and
everything after them.

Every convolution of an Ultralytics detector's backbone, neck and head branches is followed
by its activation (SiLU, as Sigmoid and Mul in ONNX; ReLU and friends in other models), except
the last convolution of each head branch, which produces raw box and class logits, and the
fixed convolutions of the decoding after them (DFL).  So, walking back from the graph's
outputs, every node reached before an activation belongs to the float tail: the final
convolutions, distribution-focal decoding, anchor arithmetic, sigmoid of the class scores,
concatenations, and in NMS-free exports the top-k selection.  The walk stops at each
activation, whose output is the last tensor the quantized trunk produces.  The rule reads
the graph's structure only, so it holds for YOLOv8, YOLO11, YOLO26 and YOLOv10 graphs alike
(docs/QUANTIZATION.md has the per-layer measurements behind it).
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx

# Activations that end a convolution block (besides SiLU = x * Sigmoid(x)).
ACTIVATIONS = frozenset({"Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "HardSwish", "Clip", "Mish",
                         "Gelu", "Softplus"})


@dataclass(frozen=True)
class FloatTail:
    nodes: frozenset[str]  # names of the nodes kept in float
    final_convs: tuple[str, ...]  # the convolutions among them, in graph order

    def __len__(self) -> int:
        return len(self.nodes)


_QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})


def _float_source(tensor: str, producers: dict[str, onnx.NodeProto]) -> str:
    """The float tensor behind a QuantizeLinear -> DequantizeLinear pair (itself otherwise)."""
    node = producers.get(tensor)
    while node is not None and node.op_type in _QDQ_OPS:
        tensor = node.input[0]
        node = producers.get(tensor)
    return tensor


def is_activation(node: onnx.NodeProto, producers: dict[str, onnx.NodeProto]) -> bool:
    """An activation ending a convolution block; Q/DQ pairs between its parts are seen through."""
    if node.op_type in ACTIVATIONS:
        return True
    if node.op_type == "Mul" and len(node.input) == 2:  # SiLU: x * Sigmoid(x)
        first, second = (_float_source(name, producers) for name in node.input)
        for gate, value in ((first, second), (second, first)):
            sigmoid = producers.get(gate)
            if sigmoid is not None and sigmoid.op_type == "Sigmoid" \
                    and _float_source(sigmoid.input[0], producers) == value:
                return True
    return False


def float_tail(model: onnx.ModelProto) -> FloatTail:
    """The nodes between the graph's outputs and the last activations before them, by name
    (give unnamed nodes names first: ``name_unnamed_nodes``).  In a quantized graph the walk
    passes through Q/DQ nodes without counting them."""
    graph = model.graph
    producers = {output: node for node in graph.node for output in node.output}
    tail: set[str] = set()
    seen: set[str] = set()
    pending = [output.name for output in graph.output]
    while pending:
        tensor = pending.pop()
        if tensor in seen:
            continue
        seen.add(tensor)
        node = producers.get(tensor)
        if node is None or is_activation(node, producers):
            continue
        if node.op_type not in _QDQ_OPS:
            tail.add(node.name)
        pending.extend(name for name in node.input if name)
    convs = tuple(node.name for node in graph.node if node.op_type == "Conv" and node.name in tail)
    return FloatTail(frozenset(tail), convs)


def name_unnamed_nodes(model: onnx.ModelProto) -> int:
    """Give every unnamed node a unique name (nodes_to_exclude works by name); how many were named."""
    taken = {node.name for node in model.graph.node if node.name}
    count = 0
    for index, node in enumerate(model.graph.node):
        if node.name:
            continue
        name = f"{node.op_type}_{index}"
        while name in taken:
            name += "_"
        node.name = name
        taken.add(name)
        count += 1
    return count
