"""Tiny real ONNX models with a YOLO detection head's output, for testing the infer stage.

The graph computes ``output = base + brightness * mean(image)`` (broadcast over the
batch), so a test chooses each anchor's box and scores exactly (``base``) and can make
them depend on each image's mean brightness (``brightness``).  Optionally anchor
``shape_probe_anchor`` gets the box (W/2, H/2, W/2, H/2) built from the input's
runtime shape, which reveals the input size the engine was fed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def ultralytics_metadata(names: list[str], *, imgsz=(64, 64), batch=1, stride=32, task="detect") -> dict[str, str]:
    """Metadata as Ultralytics' exporter writes it (all values are strings)."""
    return {
        "description": "test model",
        "author": "jetsentry tests",
        "version": "8.4.0",
        "stride": str(stride),
        "task": task,
        "batch": str(batch),
        "imgsz": str(list(imgsz)),
        "names": str(dict(enumerate(names))),
        "end2end": "False",
    }


def write_detection_model(
    path: Path,
    base: np.ndarray,
    *,
    brightness: np.ndarray | None = None,
    batch: int | None = 1,
    hw: tuple[int, int] | None = (64, 64),
    metadata: dict[str, str] | None = None,
    shape_probe_anchor: int | None = None,
    half_input: bool = False,
    dynamic_head: bool = False,
    runs_only_on_hw: tuple[int, int] | None = None,
    qdq_input: bool = False,
) -> Path:
    """Write a model with input [batch, 3, h, w] and output [batch, *base.shape]; None dims are dynamic.

    ``half_input`` declares a float16 input (as a half-precision export has), cast to float inside.
    ``dynamic_head`` declares the output's channels and anchors dynamic (as some exports do), so
    only a run reveals them.  ``runs_only_on_hw`` adds a constant of that height and width to the
    pixels, so every run on another input size fails inside ONNX Runtime.  ``qdq_input`` passes
    the pixels through an INT8 QuantizeLinear/DequantizeLinear pair (zero point 0, scale 1/127),
    which makes the file an int8 (QDQ) model.
    """
    base = np.asarray(base, np.float32)
    channels, anchors = base.shape
    brightness = np.zeros_like(base) if brightness is None else np.asarray(brightness, np.float32)
    batch_dim = "batch" if batch is None else batch
    height, width = ("height", "width") if hw is None else hw
    nodes = [
        helper.make_node("Cast", ["images"], ["pixels"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["pixels"], ["mean"], axes=[1, 2, 3], keepdims=1),
        helper.make_node("Reshape", ["mean", "mean_shape"], ["mean3"]),
        helper.make_node("Mul", ["mean3", "brightness"], ["lit"]),
        helper.make_node("Add", ["lit", "base"], ["head" if shape_probe_anchor is not None else "output0"]),
    ]
    initializers = [
        numpy_helper.from_array(np.array([-1, 1, 1], np.int64), "mean_shape"),
        numpy_helper.from_array(brightness, "brightness"),
        numpy_helper.from_array(base, "base"),
    ]
    if runs_only_on_hw is not None:
        nodes[0] = helper.make_node("Cast", ["images"], ["cast"], to=TensorProto.FLOAT)
        nodes.insert(1, helper.make_node("Add", ["cast", "fixed_hw"], ["pixels"]))
        initializers.append(numpy_helper.from_array(np.zeros((1, 3, *runs_only_on_hw), np.float32), "fixed_hw"))
    if qdq_input:
        nodes[0] = helper.make_node("Cast", ["images"], ["cast_pixels"], to=TensorProto.FLOAT)
        nodes[1:1] = [
            helper.make_node("QuantizeLinear", ["cast_pixels", "qdq_scale", "qdq_zero"], ["pixels_q"]),
            helper.make_node("DequantizeLinear", ["pixels_q", "qdq_scale", "qdq_zero"], ["pixels"]),
        ]
        initializers += [numpy_helper.from_array(np.array(1 / 127, np.float32), "qdq_scale"),
                         numpy_helper.from_array(np.array(0, np.int8), "qdq_zero")]
    if shape_probe_anchor is not None:
        one_hot = np.zeros((1, anchors), np.float32)
        one_hot[0, shape_probe_anchor] = 1
        nodes += [
            helper.make_node("Shape", ["images"], ["shape"]),
            helper.make_node("Gather", ["shape", "wh_index"], ["wh_int"], axis=0),
            helper.make_node("Cast", ["wh_int"], ["wh"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["wh", "half"], ["half_wh"]),
            helper.make_node("Concat", ["half_wh", "half_wh"], ["probe4"], axis=0),
            helper.make_node("Reshape", ["probe4", "column"], ["probe_col"]),
            helper.make_node("Mul", ["probe_col", "one_hot"], ["probe_box"]),
            helper.make_node("Concat", ["probe_box", "zero_scores"], ["probe"], axis=0),
            helper.make_node("Add", ["head", "probe"], ["output0"]),
        ]
        initializers += [
            numpy_helper.from_array(np.array([3, 2], np.int64), "wh_index"),
            numpy_helper.from_array(np.array(0.5, np.float32), "half"),
            numpy_helper.from_array(np.array([4, 1], np.int64), "column"),
            numpy_helper.from_array(one_hot, "one_hot"),
            numpy_helper.from_array(np.zeros((channels - 4, anchors), np.float32), "zero_scores"),
        ]
    output_dims = [batch_dim, "channels", "anchors"] if dynamic_head else [batch_dim, channels, anchors]
    graph = helper.make_graph(
        nodes,
        "detect",
        [
            helper.make_tensor_value_info(
                "images", TensorProto.FLOAT16 if half_input else TensorProto.FLOAT, [batch_dim, 3, height, width]
            )
        ],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, output_dims)],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)


def head(boxes_xywh: list[tuple[float, float, float, float]], scores: np.ndarray, anchors: int) -> np.ndarray:
    """A [4+C, anchors] head: the given boxes and class scores (rows) in the first anchors, zeros after."""
    scores = np.asarray(scores, np.float32)
    out = np.zeros((4 + scores.shape[1], anchors), np.float32)
    out[:4, : len(boxes_xywh)] = np.asarray(boxes_xywh, np.float32).T
    out[4:, : len(boxes_xywh)] = scores.T
    return out
