"""Which of a model's files (FP32, FP16, INT8) a backend runs."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from jetsentry.config import ConfigError, load_config
from jetsentry.config.models import ModelConfig
from jetsentry.infer import ModelError, create_engine
from jetsentry.infer.variants import PREFERENCE, choose_variant, select_model_file


@pytest.fixture
def files(make_model, simple_head):
    return {
        "fp32": make_model(simple_head, name="m.onnx"),
        "int8": make_model(simple_head, name="m.int8.onnx", qdq_input=True),
    }


def test_each_backend_takes_its_best_file_present(files):
    variants = {"int8": files["int8"]}
    assert choose_variant(files["fp32"], variants, backend="onnxruntime-cpu").path == files["int8"]
    assert choose_variant(files["fp32"], variants, backend="onnxruntime-tensorrt").path == files["int8"]
    cuda = choose_variant(files["fp32"], variants, backend="onnxruntime-cuda")
    assert (cuda.path, cuda.precision) == (files["fp32"], "fp32")
    assert "prefers fp32 > int8" in cuda.reason
    assert choose_variant(files["fp32"], {}, backend="onnxruntime-cpu").reason == "the only file"


def test_path_may_name_the_int8_file_directly_and_a_new_backend_passes_its_order(files):
    choice = choose_variant(files["int8"], {"fp32": files["fp32"]}, backend="tensorrt", preference=("fp32", "int8"))
    assert choice.path == files["fp32"]
    assert choose_variant(files["int8"], {}, backend="onnxruntime-cuda").precision == "int8"
    from jetsentry.infer.engine import available_backends

    assert set(PREFERENCE) == set(available_backends())  # every registered backend has its order


def test_explicit_precision(files):
    cfg = ModelConfig(path=files["fp32"], variants={"int8": files["int8"]}, precision="fp32")
    assert select_model_file(cfg).path == files["fp32"]
    with pytest.raises(ModelError, match="model.precision fp16: no fp16 file; model.path is fp32, model.variants has int8"):
        select_model_file(cfg.model_copy(update={"precision": "fp16"}))


def test_a_variant_of_another_precision_than_its_key_is_refused(files):
    with pytest.raises(ModelError, match=r"model.variants.fp16 names .*m.int8.onnx, which is a int8 model"):
        choose_variant(files["fp32"], {"fp16": files["int8"]}, backend="onnxruntime-cpu")
    with pytest.raises(ModelError, match="are both int8 models"):
        choose_variant(files["int8"], {"int8": _copy(files["int8"])}, backend="onnxruntime-cpu")


def _copy(path):
    other = path.with_name("copy.int8.onnx")
    other.write_bytes(path.read_bytes())
    return other


def test_create_engine_runs_the_chosen_variant(files):
    engine = create_engine(ModelConfig(path=files["fp32"], variants={"int8": files["int8"]}, threads=1))
    try:
        assert engine.info.path == files["int8"] and engine.info.precision == "int8"
        assert engine.infer(np.zeros((1, 3, 64, 64), np.float32)).shape == (1, 7, 8)
    finally:
        engine.close()


def test_config_variants_are_relative_to_the_config_file_and_must_exist(tmp_path, files):
    (tmp_path / "models").mkdir()
    for name, path in files.items():
        (tmp_path / "models" / path.name).write_bytes(path.read_bytes())
    data = {"device_id": "d", "cameras": [{"id": "c", "source": "test://smpte"}],
            "model": {"path": "models/m.onnx", "variants": {"int8": "models/m.int8.onnx"}}}
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(data))
    cfg = load_config(config, environ={})
    assert cfg.model.variants["int8"] == tmp_path / "models" / "m.int8.onnx"
    data["model"]["variants"] = {"fp16": "models/missing.onnx"}
    config.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="model.variants.fp16.*model file not found"):
        load_config(config, environ={})
