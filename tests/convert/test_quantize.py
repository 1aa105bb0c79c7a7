"""Static INT8 quantization of real Ultralytics graphs: the QDQ structure TensorRT needs, the
head in float, the metadata, and results close to FP32 on ONNX Runtime's CPU kernels."""

from __future__ import annotations

import hashlib

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from jetsentry.convert.calibration import load_calibration
from jetsentry.convert.float_tail import float_tail
from jetsentry.convert.qdq_rules import check_explicit_quantization
from jetsentry.infer import ModelInfo
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
from jetsentry.infer.qdq_cpu import cpu_form, cpu_has_vnni, fused_silu, unsigned_activations, unsigned_weights
from tests.convert.conftest import FAMILIES

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("family", FAMILIES)
def test_qdq_structure_is_symmetric_int8_per_channel_with_the_head_in_float(quantized, family):
    source, target, _ = quantized[family]
    model = onnx.load(str(target))
    initializers = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    qdq = [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert qdq and all(n.domain == "" for n in qdq)
    for node in qdq:
        zero_point = initializers[node.input[2]]
        assert zero_point.dtype == np.int8 and not zero_point.any(), node.name
        assert (initializers[node.input[1]] > 0).all(), node.name
    weight_dqs = [n for n in qdq if n.op_type == "DequantizeLinear" and n.input[0] in initializers]
    consumers = {i: n for n in model.graph.node for i in n.input}
    for node in weight_dqs:
        weights, scales = initializers[node.input[0]], initializers[node.input[1]]
        assert weights.dtype == np.int8 and weights.min() >= -127
        assert consumers[node.output[0]].op_type == "Conv"
        axis = next(a.i for a in node.attribute if a.name == "axis")
        assert axis == 0 and scales.shape == (weights.shape[0],)  # one scale per output channel
    tail = float_tail(onnx.load(str(source)))
    convs = {n.name: n for n in model.graph.node if n.op_type == "Conv"}
    for name in tail.final_convs:  # the head's last convolutions keep float weights
        assert convs[name].input[1] in initializers and initializers[convs[name].input[1]].dtype == np.float32
    assert len(weight_dqs) == len(convs) - len(tail.final_convs)  # every other convolution is INT8
    assert check_explicit_quantization(model) == []


def test_the_tail_rule_finds_each_familys_final_convolutions(ultralytics_families):
    for family in FAMILIES:
        tail = float_tail(onnx.load(str(ultralytics_families[family])))
        # YOLOv8/YOLO11: 3 scales x (box, class) + DFL; YOLO26 has no DFL (reg_max 1).
        assert len(tail.final_convs) == (6 if family.startswith("yolo26") else 7), (family, tail.final_convs)
        assert all("model.23" in c or "model.22" in c for c in tail.final_convs), tail.final_convs


@pytest.mark.parametrize("family", FAMILIES)
def test_metadata_names_the_source_and_the_calibration(quantized, family):
    source, target, calibration = quantized[family]
    info = ModelInfo.from_onnx(target)
    assert info.precision == "int8" and info.class_names == ModelInfo.from_onnx(source).class_names
    metadata = info.metadata
    assert metadata["source_sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert metadata["calibration_method"] == "minmax" and metadata["calibration_samples"] == "4"
    assert metadata["calibration_sha256"] == calibration.sha256
    assert metadata["quantizer"].startswith("jetsentry ") and "onnxruntime" in metadata["quantizer"]


def test_calibration_hash_follows_the_data(photo_folder, ultralytics_families):
    info = ModelInfo.from_onnx(ultralytics_families["yolov8"])
    first = load_calibration(photo_folder, info, 3, input_size=96)
    assert load_calibration(photo_folder, info, 3, input_size=96).sha256 == first.sha256
    assert load_calibration(photo_folder, info, 4, input_size=96).sha256 != first.sha256
    assert all(sample.shape == (1, 3, 96, 96) and sample.dtype == np.uint8 for sample in first.samples)


@pytest.mark.parametrize("family", ["yolov8", "yolo26-end2end"])
def test_int8_outputs_stay_close_to_fp32(quantized, family):
    source, target, calibration = quantized[family]
    fp32, int8 = OnnxRuntimeEngine(source, threads=1), OnnxRuntimeEngine(target, threads=1)
    batch = next(calibration.tensors())
    reference, candidate = fp32.infer(batch), int8.infer(batch)
    assert candidate.shape == reference.shape
    if family == "yolov8":  # class scores: sigmoid outputs, compared directly
        assert np.abs(candidate[:, 4:] - reference[:, 4:]).mean() < 0.05
    else:  # the same top rows, near the same scores
        assert np.abs(candidate[0, :20, 4] - reference[0, :20, 4]).max() < 0.1


def _assert_same_unfused_outputs(model, rewritten, calibration):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the graph as written
    signed = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    unsigned = ort.InferenceSession(rewritten.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed = {"images": next(calibration.tensors())}
    np.testing.assert_array_equal(signed.run(None, feed)[0], unsigned.run(None, feed)[0])


def test_unsigned_activations_compute_exactly_what_the_signed_graph_defines(quantized):
    _, target, calibration = quantized["yolov8"]
    model = onnx.load(str(target))
    rewritten = unsigned_activations(model)
    assert rewritten is not None
    zero_points = {i.name: i.data_type for i in rewritten.graph.initializer}
    activation_q = [n for n in rewritten.graph.node if n.op_type == "QuantizeLinear"]
    assert all(zero_points[n.input[2]] == onnx.TensorProto.UINT8 for n in activation_q)
    _assert_same_unfused_outputs(model, rewritten, calibration)


def test_unsigned_weights_compute_exactly_what_the_signed_graph_defines(quantized):
    _, target, calibration = quantized["yolov8"]
    model = onnx.load(str(target))
    activations = unsigned_activations(model)
    rewritten = unsigned_weights(activations)
    assert rewritten is not None
    initializers = {i.name: i for i in rewritten.graph.initializer}
    weight_dq = [n for n in rewritten.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in initializers]
    assert weight_dq and all(initializers[n.input[0]].data_type == onnx.TensorProto.UINT8 for n in weight_dq)
    assert all(set(numpy_helper.to_array(initializers[n.input[2]]).ravel()) == {128} for n in weight_dq)
    _assert_same_unfused_outputs(model, rewritten, calibration)


def test_the_cpu_form_makes_weights_unsigned_only_on_x86_without_vnni(quantized):
    _, target, _ = quantized["yolov8"]
    model = onnx.load(str(target))

    def weight_types(form):
        initializers = {i.name: i.data_type for i in form.graph.initializer}
        return {initializers[n.input[0]] for n in form.graph.node
                if n.op_type == "DequantizeLinear" and n.input[0] in initializers}

    assert weight_types(cpu_form(model, "x86_64", vnni=False)) == {onnx.TensorProto.UINT8}
    assert weight_types(cpu_form(model, "x86_64", vnni=True)) == {onnx.TensorProto.INT8}
    assert weight_types(cpu_form(model, "aarch64", vnni=False)) == {onnx.TensorProto.INT8}


@pytest.mark.parametrize(("flags", "vnni"), [
    ("fpu sse2 avx2 fma", False),
    ("fpu avx2 avx512f avx512bw avx512_vnni", True),
    ("fpu avx2 avx_vnni", True),
])
def test_vnni_is_read_from_the_cpu_flags(flags, vnni):
    assert cpu_has_vnni(f"processor\t: 0\nflags\t\t: {flags}\n") is vnni
    assert cpu_has_vnni("processor\t: 0\n") is False  # no flags line (not x86)


def test_fused_silu_is_quickgelu_with_the_same_results(quantized):
    _, target, calibration = quantized["yolov8"]
    model = onnx.load(str(target))
    fused = fused_silu(model)
    assert fused is not None
    ops = [n.op_type for n in fused.graph.node]
    assert ops.count("QuickGelu") == sum(n.op_type == "Mul" for n in model.graph.node) - ops.count("Mul")
    assert "QuickGelu" in ops and ops.count("Sigmoid") < [n.op_type for n in model.graph.node].count("Sigmoid")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    feed = {"images": next(calibration.tensors())}
    plain = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    quick = ort.InferenceSession(fused.SerializeToString(), options, providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(plain.run(None, feed)[0], quick.run(None, feed)[0], rtol=0, atol=1e-5)


def test_quantized_concat_writes_the_same_bytes_with_8_bit_concatenations(quantized):
    from jetsentry.infer.qdq_cpu import quantized_concat

    _, target, calibration = quantized["yolov8"]
    model = onnx.load(str(target))
    rewritten = quantized_concat(model)
    assert rewritten is not None
    producers = {out: n for n in rewritten.graph.node for out in n.output}
    quantized_joins = [n for n in rewritten.graph.node if n.op_type == "Concat"
                       and all(producers.get(i) is not None and producers[i].op_type == "QuantizeLinear" for i in n.input)]
    assert len(quantized_joins) >= 8  # the C2f blocks, the SPPF and the neck's joins
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # the graph as written
    feed = {"images": next(calibration.tensors())}
    plain = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    joined = ort.InferenceSession(rewritten.SerializeToString(), options, providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(plain.run(None, feed)[0], joined.run(None, feed)[0])
    assert quantized_concat(rewritten) is None  # nothing left to rewrite
