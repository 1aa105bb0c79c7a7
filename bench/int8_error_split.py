"""Where an INT8 file's difference from FP32 comes from: its weights' rounding or its activations'.

From one INT8 file, two diagnostic models: "weights only" (every activation Q/DQ pair removed,
the INT8 weights kept) and "activations only" (the weights back to the prepared FP32 model's
float values, the activation Q/DQ pairs kept). Each is compared with FP32 on the same frames as
the INT8 file is (agreement at IoU >= 0.9, score differences, mean IoU; bench/int8_sensitivity.py).

    python bench/int8_error_split.py --model FP32.onnx --int8 INT8.onnx --frames FRAMES [--every N]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

import onnx

from common import write_result

from int8_sensitivity import compare, detect_all, held_out_frames
from jetsentry.convert.prepare import prepared_for_quantization


def without_pairs(model: onnx.ModelProto, selected: Callable[[onnx.NodeProto, dict], bool]) -> onnx.ModelProto:
    """The model with the activation Q/DQ pairs whose QuantizeLinear ``selected(node, producers)``
    picks removed: DequantizeLinear(QuantizeLinear(x)) -> x (weights' DequantizeLinear stay)."""
    initializers = {i.name for i in model.graph.initializer}
    producers = {out: node for node in model.graph.node for out in node.output}
    dropped = {node.output[0]: node.input[0] for node in model.graph.node
               if node.op_type == "QuantizeLinear" and node.input[0] not in initializers and selected(node, producers)}
    bypass = {node.output[0]: dropped[node.input[0]] for node in model.graph.node
              if node.op_type == "DequantizeLinear" and node.input[0] in dropped}
    kept = [n for n in model.graph.node if not (n.op_type == "QuantizeLinear" and n.output[0] in dropped)
            and not (n.op_type == "DequantizeLinear" and n.output[0] in bypass)]
    for node in kept:
        node.input[:] = [bypass.get(name, name) for name in node.input]
    for output in model.graph.output:
        output.name = bypass.get(output.name, output.name)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return model


def weights_only(model: onnx.ModelProto) -> onnx.ModelProto:
    return without_pairs(model, lambda node, producers: True)


def activations_only(model: onnx.ModelProto, fp32: onnx.ModelProto) -> onnx.ModelProto:
    floats = {i.name: i for i in fp32.graph.initializer}
    initializers = {i.name for i in model.graph.initializer}
    weight_dq = {n.output[0]: n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in initializers}
    for node in model.graph.node:
        if node.op_type == "Conv" and node.input[1] in weight_dq:
            original = weight_dq[node.input[1]].input[0].removesuffix("_quantized")
            if original in floats:
                model.graph.initializer.append(floats[original])
                node.input[1] = original
    used = {name for node in model.graph.node for name in node.input}
    kept = [n for n in model.graph.node if not (n.op_type == "DequantizeLinear" and n.output[0] not in used)]
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--int8", type=Path, required=True)
    parser.add_argument("--frames", type=Path, required=True, help="scenes folder, video or image folder")
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--name", default=None)
    args = parser.parse_args()
    frames = held_out_frames(args.frames, args.every)
    reference = detect_all(args.model, frames)
    fp32 = prepared_for_quantization(onnx.load(str(args.model)))
    rows = {}
    with tempfile.TemporaryDirectory(prefix="int8-split-") as work:
        variants = {"int8": onnx.load(str(args.int8)),
                    "weights only": weights_only(onnx.load(str(args.int8))),
                    "activations only": activations_only(onnx.load(str(args.int8)), fp32)}
        for label, model in variants.items():
            path = Path(work) / "m.onnx"
            onnx.save(model, str(path))
            rows[label] = compare(reference, detect_all(path, frames))
            print(f"{label:18s} {rows[label]}", flush=True)
    write_result(args.name or f"int8_error_split_{args.model.stem}", {
        "model": str(args.model), "int8": str(args.int8), "frames": len(frames), "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
