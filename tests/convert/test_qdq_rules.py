"""TensorRT's explicit-quantization rules (docs/QUANTIZATION.md): the quantizer's files meet each,
and a file breaking one is caught, one rule at a time."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from jetsentry.convert.qdq_rules import check_explicit_quantization

pytestmark = pytest.mark.slow


@pytest.fixture
def model(quantized) -> onnx.ModelProto:
    return onnx.load(str(quantized["yolov8"][1]))


def _rules(model: onnx.ModelProto) -> set[str]:
    return {violation.rule for violation in check_explicit_quantization(model)}


def _initializer(model, name) -> onnx.TensorProto:
    return next(i for i in model.graph.initializer if i.name == name)


def _set(model, name, values: np.ndarray) -> None:
    _initializer(model, name).CopyFrom(numpy_helper.from_array(values, name))


def _first(model, op_type, *, weight: bool | None = None) -> onnx.NodeProto:
    initializers = {i.name for i in model.graph.initializer}
    return next(n for n in model.graph.node if n.op_type == op_type
                and (weight is None or (n.input[0] in initializers) == weight))


def test_every_familys_file_meets_every_rule(quantized):
    for family, (_, path, _) in quantized.items():
        assert check_explicit_quantization(onnx.load(str(path))) == [], family


def test_opset_outside_what_every_tensorrt_parses(model):
    model.opset_import[0].version = 19
    assert _rules(model) == {"opset"}


def test_contrib_domain_qdq(model):
    _first(model, "QuantizeLinear").domain = "com.microsoft"
    assert "standard Q/DQ" in _rules(model)


@pytest.mark.parametrize("input_index, value, rule", [
    (2, np.array(3, np.int8), "INT8 zero point 0"),  # asymmetric
    (2, np.array(128, np.uint8), "INT8 zero point 0"),  # unsigned
    (1, np.array(0.0, np.float32), "constant positive scale"),
])
def test_activation_quantization_parameters(model, input_index, value, rule):
    node = _first(model, "QuantizeLinear")
    _set(model, node.input[input_index], value)
    assert rule in _rules(model)


def test_scale_computed_at_run_time(model):
    node = _first(model, "QuantizeLinear")
    model.graph.node.append(helper.make_node("Identity", [node.input[1]], ["computed_scale"]))
    node.input[1] = "computed_scale"
    assert "constant positive scale" in _rules(model)


def test_per_channel_activation(model):
    node = _first(model, "QuantizeLinear")
    scale = numpy_helper.to_array(_initializer(model, node.input[1]))
    _set(model, node.input[1], np.full(3, scale, np.float32))
    assert "per-tensor activations" in _rules(model)


def test_weights_quantized_on_the_wrong_axis(model):
    node = _first(model, "DequantizeLinear", weight=True)
    weights = numpy_helper.to_array(_initializer(model, node.input[0]))
    scales = numpy_helper.to_array(_initializer(model, node.input[1]))
    for attribute in node.attribute:
        if attribute.name == "axis":
            attribute.i = 1
    _set(model, node.input[1], np.resize(scales, weights.shape[1]).astype(np.float32))
    assert "per-channel weights" in _rules(model)


def test_weights_using_minus_128(model):
    node = _first(model, "DequantizeLinear", weight=True)
    weights = numpy_helper.to_array(_initializer(model, node.input[0])).copy()
    weights.flat[0] = -128
    _set(model, node.input[0], weights)
    assert _rules(model) == {"INT8 weights"}


def test_quantized_int32_bias(model):
    conv = next(n for n in model.graph.node if n.op_type == "Conv" and len(n.input) > 2
                and n.input[1].endswith("DequantizeLinear_Output"))
    bias = conv.input[2]
    model.graph.initializer.extend([numpy_helper.from_array(np.zeros(1, np.int32), "bias_q"),
                                    numpy_helper.from_array(np.array(1e-4, np.float32), "bias_scale"),
                                    numpy_helper.from_array(np.array(0, np.int32), "bias_zero")])
    model.graph.node.append(helper.make_node("DequantizeLinear", ["bias_q", "bias_scale", "bias_zero"], [bias + "_dq"]))
    conv.input[2] = bias + "_dq"
    assert "float bias" in _rules(model)


def test_lone_quantize_without_its_dequantize(model):
    node = _first(model, "QuantizeLinear")
    user = next(n for n in model.graph.node if node.output[0] in n.input)
    user.input[2] = user.input[2] + "_other"  # the DequantizeLinear no longer uses the pair's zero point
    model.graph.initializer.append(numpy_helper.from_array(np.array(0, np.int8), user.input[2]))
    assert "Q/DQ pairs" in _rules(model)


def test_a_quantized_head(model, quantized):
    # Feed one final convolution its weights through an INT8 DequantizeLinear.
    from jetsentry.convert.float_tail import float_tail

    final = float_tail(onnx.load(str(quantized["yolov8"][0]))).final_convs[0]
    conv = next(n for n in model.graph.node if n.name == final)
    weights = numpy_helper.to_array(_initializer(model, conv.input[1]))
    model.graph.initializer.extend([numpy_helper.from_array(np.zeros_like(weights, np.int8), "head_w"),
                                    numpy_helper.from_array(np.ones(weights.shape[0], np.float32), "head_s"),
                                    numpy_helper.from_array(np.zeros(weights.shape[0], np.int8), "head_z")])
    model.graph.node.append(helper.make_node("DequantizeLinear", ["head_w", "head_s", "head_z"], ["head_dq"], axis=0))
    conv.input[1] = "head_dq"
    assert _rules(model) == {"float head"}


def test_a_quantized_integer_tensor(model):
    node = _first(model, "QuantizeLinear")
    model.graph.node.append(helper.make_node("Shape", ["images"], ["image_shape"]))
    node.input[0] = "image_shape"  # a shape tensor (int64) fed to QuantizeLinear
    assert "float tensors only" in _rules(model)
