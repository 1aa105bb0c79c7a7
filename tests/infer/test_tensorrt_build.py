"""Building TensorRT engines for 8.x, 10.x and 11.x, against a fake of the TensorRT API (tests/infer/fake_tensorrt.py)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from jetsentry.config.backends import TensorrtBackend
from jetsentry.infer.errors import EngineBuildError, TensorRTError
from jetsentry.infer.model_info import ModelInfo
from jetsentry.infer.tensorrt_build import build_engine, build_settings, network_flags, tensorrt_major
from tests.infer.fake_tensorrt import engine_header, make_fake_tensorrt

VERSIONS = ("8.5.2", "8.6.2", "10.3.0", "10.16.1", "11.4.1")


def _backend(**fields) -> TensorrtBackend:
    return TensorrtBackend(type="tensorrt", **fields)


def _with_precision(path, precision):
    """The same tiny model, marked as an FP16 or explicitly quantized file the way those files are."""
    model = onnx.load(str(path))
    if precision == "fp16":
        for init in model.graph.initializer:
            if init.data_type == onnx.TensorProto.FLOAT:
                init.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name))
    elif precision == "int8":
        model.graph.node.append(onnx.helper.make_node("QuantizeLinear", ["base", "qs"], ["q_unused"]))
        model.graph.initializer.append(numpy_helper.from_array(np.array(0.1, np.float32), "qs"))
    out = path.with_name(f"{precision}.onnx")
    onnx.save(model, str(out))
    return out


@pytest.mark.parametrize("version, major", [("8.5.2", 8), ("8.6.1", 8), ("10.3.0", 10), ("11.4.1", 11)])
def test_supported_versions(version, major):
    assert tensorrt_major(make_fake_tensorrt(version)) == major


@pytest.mark.parametrize("version", ["7.1.3", "8.4.1", "9.2.0", "12.0.0"])
def test_unsupported_versions_are_refused(version):
    with pytest.raises(TensorRTError, match=f"TensorRT {version} is not supported"):
        tensorrt_major(make_fake_tensorrt(version))


def test_network_flags_per_version():
    assert network_flags(make_fake_tensorrt("8.6.2"), 8) == 1  # 1 << EXPLICIT_BATCH
    assert network_flags(make_fake_tensorrt("10.3.0"), 10) == 2  # 1 << STRONGLY_TYPED
    assert network_flags(make_fake_tensorrt("11.4.1"), 11) == 0  # strongly typed is the only mode


def test_profile_of_a_dynamic_model(make_model, simple_head):
    info = ModelInfo.from_onnx(make_model(simple_head, batch=None, hw=None))
    settings = build_settings(info, _backend(opt_batch=4), max_batch=8, input_size=640, major=10)
    assert settings.min_shape == (1, 3, 32, 32)
    assert settings.opt_shape == (4, 3, 640, 640)
    assert settings.max_shape == (8, 3, 640, 640)
    assert settings.strongly_typed


def test_profile_of_a_static_model_is_its_shape(make_model, simple_head):
    info = ModelInfo.from_onnx(make_model(simple_head, batch=2, hw=(64, 64)))
    settings = build_settings(info, _backend(), max_batch=8, input_size=640, major=8)
    assert settings.min_shape == settings.opt_shape == settings.max_shape == (2, 3, 64, 64)
    assert not settings.strongly_typed


def test_opt_batch_is_at_most_the_maximum(make_model, simple_head):
    info = ModelInfo.from_onnx(make_model(simple_head, batch=None))
    assert build_settings(info, _backend(opt_batch=16), max_batch=4, input_size=64, major=10).opt_shape[0] == 4


def test_dla_needs_a_reduced_precision_model(make_model, simple_head):
    info = ModelInfo.from_onnx(make_model(simple_head))
    with pytest.raises(ValueError, match="the DLA runs FP16 or INT8 only"):
        build_settings(info, _backend(dla_core=0), max_batch=1, input_size=64, major=8)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_build_per_version_and_precision(make_model, simple_head, version, precision):
    path = make_model(simple_head, batch=None)
    if precision != "fp32":
        path = _with_precision(path, precision)
    info = ModelInfo.from_onnx(path)
    assert info.precision == precision
    trt = make_fake_tensorrt(version)
    major = tensorrt_major(trt)
    settings = build_settings(info, _backend(workspace_mib=256), max_batch=4, input_size=64, major=major)
    engine, timing = build_engine(trt, info.path, settings, major=major, timing_cache=None)
    header = engine_header(engine)
    assert header["version"] == version
    assert header["profile"] == [[1, 3, 64, 64], [4, 3, 64, 64], [4, 3, 64, 64]]
    assert header["workspace"] == 256 << 20
    expected_flags = {"fp32": [], "fp16": ["FP16"], "int8": ["INT8"]}[precision] if major == 8 else []
    assert header["flags"] == expected_flags  # 10.x/11.x: strongly typed, the model's own types
    assert timing == f"fake timing cache {version}".encode()
    calls = [c[0] for c in trt.calls]
    assert calls.index("create_network") < calls.index("parse_from_file") < calls.index("build_serialized_network")


def test_dla_settings(make_model, simple_head):
    path = _with_precision(make_model(simple_head), "fp16")
    info = ModelInfo.from_onnx(path)
    trt = make_fake_tensorrt("8.6.2")
    settings = build_settings(info, _backend(dla_core=1, gpu_fallback=True), max_batch=1, input_size=64, major=8)
    header = engine_header(build_engine(trt, info.path, settings, major=8, timing_cache=b"old")[0])
    assert header["dla_core"] == 1 and "GPU_FALLBACK" in header["flags"]
    assert ("create_timing_cache", b"old") in trt.calls
    assert ("set_timing_cache", False) in trt.calls  # a mismatched cache is refused, not silently used


def test_parser_errors_are_an_engine_build_error(tmp_path, make_model, simple_head):
    info = ModelInfo.from_onnx(make_model(simple_head))
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not onnx")
    trt = make_fake_tensorrt("10.3.0")
    settings = build_settings(info, _backend(), max_batch=1, input_size=64, major=10)
    with pytest.raises(EngineBuildError, match="ONNX parser refused .*broken.onnx: ModelImporter") as caught:
        build_engine(trt, broken, settings, major=10, timing_cache=None)
    assert caught.value.call == "OnnxParser.parse_from_file"


def test_a_failed_build_names_the_call_and_tensorrts_error(make_model, simple_head):
    info = ModelInfo.from_onnx(make_model(simple_head))
    trt = make_fake_tensorrt("10.3.0", fail_build=True)
    settings = build_settings(info, _backend(), max_batch=1, input_size=64, major=10)
    with pytest.raises(EngineBuildError, match="could not build an engine .*fake build failure") as caught:
        build_engine(trt, info.path, settings, major=10, timing_cache=None)
    assert caught.value.call == "Builder.build_serialized_network"
