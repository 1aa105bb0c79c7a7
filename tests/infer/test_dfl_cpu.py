"""The DFL decoding rewritten with reductions for ONNX Runtime's CPU kernels (infer/dfl_cpu.py):
the same outputs up to float rounding, on real Ultralytics exports and in both opset forms."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from jetsentry.infer.dfl_cpu import fast_dfl


def _run(model: onnx.ModelProto, feed: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: feed})[0]


def _feed(model: onnx.ModelProto, size: int) -> np.ndarray:
    return np.random.default_rng(1).random((1, 3, size, size), dtype=np.float32)


@pytest.mark.parametrize("family", ["yolov8", "yolo11"])
def test_each_dfl_of_a_real_export_gives_the_same_outputs(ultralytics_families, family):
    model = onnx.load(str(ultralytics_families[family]))
    rewritten = fast_dfl(model)
    assert rewritten is not None
    ops = [n.op_type for n in rewritten.graph.node]
    bins = [n for n in rewritten.graph.node if n.op_type == "Softmax" and n.attribute[0].i == 1]
    assert not bins and ops.count("ReduceMax") == 1  # YOLO11's attention Softmax (last axis) stays
    size = model.graph.input[0].type.tensor_type.shape.dim[2].dim_value or 96
    feed = _feed(model, size)
    want, got = _run(model, feed), _run(rewritten, feed)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)  # boxes in input pixels, scores 0..1
    assert fast_dfl(rewritten) is None  # nothing left to rewrite


def test_a_head_without_dfl_is_left_alone(ultralytics_families):
    assert fast_dfl(onnx.load(str(ultralytics_families["yolo26"]))) is None


def test_the_coco_model_at_opset_20_takes_reduce_axes_as_inputs(coco_model):
    model = onnx.load(str(coco_model))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 18
    rewritten = fast_dfl(model)
    reduce_max = next(n for n in rewritten.graph.node if n.op_type == "ReduceMax")
    assert len(reduce_max.input) == 2 and not reduce_max.attribute[1:]
    feed = _feed(model, 640)
    np.testing.assert_allclose(_run(rewritten, feed), _run(model, feed), rtol=1e-5, atol=1e-3)
