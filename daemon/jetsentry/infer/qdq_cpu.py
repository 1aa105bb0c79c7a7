"""A signed-INT8 QDQ model, as TensorRT needs it, re-expressed for ONNX Runtime's CPU kernels.

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
way.  Weights stay signed where the CPU has VNNI (the u8 x s8 kernels want them so).  Without
VNNI (AVX2 alone, as on AMD EPYC before Zen 4 and Intel before Cascade Lake) ONNX Runtime's
u8 x s8 kernel adds pairs of products in 16 bits (vpmaddubsw), which saturate when weights
use the whole int8 range: on such a CPU the default model's INT8 file matched only 85 % of
FP32's boxes at IoU 0.9 on the sample scene (ONNX Runtime's quantization guide warns of this
too).  There the weights are made unsigned as well (+128, zero point 128: the same numbers),
which ONNX Runtime runs with its u8 x u8 kernel, widened to 16 bits before multiplying, and
the file matches 100 % again (docs/QUANTIZATION.md, INT8 on the CPU).

A SiLU between two quantized convolutions reads its input through two DequantizeLinear nodes
(ONNX Runtime gives each consumer its own), which stops ONNX Runtime from fusing Sigmoid and Mul
into its QuickGelu kernel as it does in FP32 models; ``fused_silu`` writes that fusion
(QuickGelu with alpha 1 is x * sigmoid(x)) so both files get it.

A Concat whose output only feeds a QuantizeLinear (a C2f block's, the SPPF's, the neck's, before
the next convolution) concatenates float tensors four times the size of their quantized form;
``quantized_concat`` quantizes each input with that QuantizeLinear's scale and zero point and
concatenates the 8-bit tensors instead.  QuantizeLinear works element by element, so the result
is the same bytes.
"""

from __future__ import annotations

import platform

import numpy as np
import onnx
from onnx import numpy_helper

_X86 = frozenset({"x86_64", "amd64", "i386", "i686", "x86"})


_VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})


def wants_unsigned_activations(machine: str | None = None) -> bool:
    """On x86, ONNX Runtime's integer convolutions need unsigned activations; ARM runs signed ones."""
    return (machine or platform.machine()).lower() in _X86


def cpu_has_vnni(cpuinfo: str | None = None) -> bool:
    """Whether this x86 CPU has VNNI (8-bit dot products into 32 bits), from /proc/cpuinfo's flags;
    False when they cannot be read."""
    if cpuinfo is None:
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
                cpuinfo = handle.read()
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return not _VNNI_FLAGS.isdisjoint(line.split(":", 1)[-1].split())
    return False


def unsigned_weights(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """A copy with every int8 weight (an initializer read by a DequantizeLinear) and its zero
    point made uint8 (+128); None when there is none.  Run after unsigned_activations, which
    gives weights their own zero points where they shared one with an activation."""
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    names: set[str] = set()
    for node in graph.node:
        weight = initializers.get(node.input[0]) if node.op_type == "DequantizeLinear" else None
        if weight is None or weight.data_type != onnx.TensorProto.INT8:
            continue
        names.add(weight.name)
        if len(node.input) > 2 and node.input[2]:
            names.add(node.input[2])
    if not names:
        return None
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    for init in rewritten.graph.initializer:
        if init.name in names and init.data_type == onnx.TensorProto.INT8:
            _shift_to_uint8(init)
    return rewritten


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
        _shift_to_uint8(init)
    return rewritten


def cpu_form(model: onnx.ModelProto, machine: str | None = None, vnni: bool | None = None) -> onnx.ModelProto | None:
    """The model as the CPU engine loads it: SiLU fused, concatenations quantized, on x86
    unsigned activations, and on x86 without VNNI unsigned weights too; None when none of them
    changes anything.  ``machine``, ``vnni``: this machine's unless given."""
    changed = fused_silu(model)
    changed = quantized_concat(changed or model) or changed
    if wants_unsigned_activations(machine):
        changed = unsigned_activations(changed or model) or changed
        if not (cpu_has_vnni() if vnni is None else vnni):
            changed = unsigned_weights(changed or model) or changed
    return changed


def fused_silu(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """A copy with each x * Sigmoid(x) whose two x come from the same dequantized tensor as one
    QuickGelu(x, alpha=1) (ONNX Runtime's contrib operator); None when there is none."""
    graph = model.graph
    producers = {output: node for node in graph.node for output in node.output}
    uses: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            uses[name] = uses.get(name, 0) + 1

    def source(tensor: str) -> tuple:
        node = producers.get(tensor)
        return tuple(node.input) if node is not None and node.op_type == "DequantizeLinear" else (tensor,)

    pairs = {}  # Mul node index -> (its x input, the Sigmoid's output)
    for index, node in enumerate(graph.node):
        if node.op_type != "Mul" or len(node.input) != 2:
            continue
        for value, gate in ((node.input[0], node.input[1]), (node.input[1], node.input[0])):
            sigmoid = producers.get(gate)
            if (sigmoid is not None and sigmoid.op_type == "Sigmoid" and uses[gate] == 1
                    and producers.get(value) is not None and source(sigmoid.input[0]) == source(value)
                    and producers[value].op_type == "DequantizeLinear"):
                pairs[index] = (value, gate)
                break
    if not pairs:
        return None
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    gates = {gate for _, gate in pairs.values()}
    nodes = []
    for index, node in enumerate(rewritten.graph.node):
        if index in pairs:
            value, _ = pairs[index]
            node.op_type, node.domain = "QuickGelu", "com.microsoft"
            del node.input[:]
            node.input.append(value)
            node.attribute.append(onnx.helper.make_attribute("alpha", 1.0))
        elif node.op_type == "Sigmoid" and node.output[0] in gates:
            continue
        nodes.append(node)
    used = {name for node in nodes for name in node.input} | {output.name for output in rewritten.graph.output}
    nodes = [n for n in nodes if not (n.op_type == "DequantizeLinear" and n.output[0] not in used)]
    del rewritten.graph.node[:]
    rewritten.graph.node.extend(nodes)
    if not any(opset.domain == "com.microsoft" for opset in rewritten.opset_import):
        rewritten.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    return rewritten


def quantized_concat(model: onnx.ModelProto) -> onnx.ModelProto | None:
    """A copy with each Concat -> QuantizeLinear (the Concat's only consumer) turned into one
    QuantizeLinear per input -> Concat of the quantized tensors; None when there is none."""
    graph = model.graph
    outputs = {output.name for output in graph.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    concats = {node.output[0]: node for node in graph.node if node.op_type == "Concat"}
    pairs = {}  # the QuantizeLinear's output -> (Concat, QuantizeLinear)
    for node in graph.node:
        if node.op_type != "QuantizeLinear" or node.input[0] not in concats or node.input[0] in outputs:
            continue
        if len(consumers[node.input[0]]) == 1:
            pairs[node.output[0]] = (concats[node.input[0]], node)
    if not pairs:
        return None
    rewritten = onnx.ModelProto()
    rewritten.CopyFrom(model)
    replaced = {concat.output[0] for concat, _ in pairs.values()}
    nodes = []
    for node in rewritten.graph.node:
        if node.op_type == "QuantizeLinear" and node.output[0] in pairs:
            concat, quantize = pairs[node.output[0]]
            parts = []
            for index, name in enumerate(concat.input):
                part = f"{quantize.output[0]}_part{index}"
                nodes.append(onnx.helper.make_node("QuantizeLinear", [name, *quantize.input[1:]], [part],
                                                   name=f"{quantize.name or part}_part{index}"))
                parts.append(part)
            joined = onnx.helper.make_node("Concat", parts, [quantize.output[0]], name=concat.name or None)
            joined.attribute.extend(concat.attribute)
            nodes.append(joined)
        elif not (node.op_type == "Concat" and node.output[0] in replaced):
            nodes.append(node)
    del rewritten.graph.node[:]
    rewritten.graph.node.extend(nodes)
    return rewritten


def _shift_to_uint8(init: onnx.TensorProto) -> None:
    """An int8 initializer rewritten in place as uint8, each value + 128 (the same quantized number
    once its zero point moved by 128 too)."""
    values = numpy_helper.to_array(init).astype(np.int16) + 128
    init.CopyFrom(numpy_helper.from_array(values.astype(np.uint8), init.name))


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
