from __future__ import annotations

import hashlib

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from jetsentry.infer import ModelError, ModelInfo
from tests.infer.conftest import NAMES
from tests.infer.onnx_models import ultralytics_metadata


def test_reads_ultralytics_metadata(make_model, simple_head):
    metadata = ultralytics_metadata(NAMES, imgsz=(64, 64)) | {"recipe_hash": "abc123", "stride": "16"}
    path = make_model(simple_head, metadata=metadata)
    info = ModelInfo.from_onnx(path)
    assert info.class_names == ("person", "car", "dog")
    assert info.num_classes == 3
    assert info.stride == 16
    assert info.imgsz == (64, 64)
    assert info.recipe_hash == "abc123"
    assert info.version == "8.4.0"
    assert info.description == "test model"
    assert info.name == "model"  # no 'name' metadata: the file stem
    assert info.task == "detect"
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (info.input_name, info.output_name, info.input_dtype) == ("images", "output0", "float32")
    assert (info.batch_size, info.input_height, info.input_width) == (1, 64, 64)
    assert not info.dynamic_batch and not info.dynamic_hw
    assert info.num_anchors == 8


def test_dynamic_dimensions(make_model, simple_head):
    info = ModelInfo.from_onnx(make_model(simple_head, batch=None, hw=None))
    assert info.dynamic_batch and info.dynamic_hw
    assert info.batch_size is None and info.input_height is None and info.input_width is None


def test_without_metadata_names_come_from_the_output_shape(make_model, simple_head):
    info = ModelInfo.from_onnx(make_model(simple_head, metadata={}))
    assert info.class_names == ("class0", "class1", "class2")
    assert info.stride == 32
    assert info.imgsz == (64, 64)  # from the static input


def test_names_are_parsed_as_literals_never_evaluated(make_model, simple_head, tmp_path):
    marker = tmp_path / "executed"
    metadata = ultralytics_metadata(NAMES) | {"names": f"__import__('pathlib').Path({str(marker)!r}).touch()"}
    with pytest.raises(ModelError, match="metadata 'names' is not a Python literal"):
        ModelInfo.from_onnx(make_model(simple_head, metadata=metadata))
    assert not marker.exists()


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match=r"model.path .*nope.onnx does not exist"):
        ModelInfo.from_onnx(tmp_path / "nope.onnx")


@pytest.mark.parametrize("content", [b"\xff\xd8\xff\xe0 a JPEG, not a model", b"hello world\n"])
def test_not_onnx(tmp_path, content):
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=r"model.path .*model.onnx is not an ONNX model: "):
        ModelInfo.from_onnx(path)


def test_segmentation_shaped_output_is_refused(make_model):
    # 3 classes + 32 mask coefficients per anchor, as a segmentation head has.
    base = np.zeros((4 + 3 + 32, 8), np.float32)
    with pytest.raises(ModelError, match=r"has shape \[1, 39, 8\]: 39 channels but the model names 3 classes.*segmentation, pose and OBB"):
        ModelInfo.from_onnx(make_model(base))


def test_segment_task_is_refused(make_model, simple_head):
    metadata = ultralytics_metadata(NAMES, task="segment")
    with pytest.raises(ModelError, match="is a 'segment' model; jetsentry needs a detection model"):
        ModelInfo.from_onnx(make_model(simple_head, metadata=metadata))


def test_end2end_metadata_does_not_override_the_output_shape(make_model, simple_head):
    # Ultralytics' end2end key can disagree with the graph: the shape decides.
    metadata = ultralytics_metadata(NAMES) | {"end2end": "True"}
    info = ModelInfo.from_onnx(make_model(simple_head, metadata=metadata))
    assert info.output_layout == "anchors" and info.needs_nms


def test_nms_free_output_is_the_detections_layout(make_model):
    info = ModelInfo.from_onnx(make_model(np.zeros((20, 6), np.float32)))  # [1, 20, 6], 3 classes
    assert info.output_layout == "detections" and not info.needs_nms
    assert (info.num_anchors, info.output_channels) == (20, 6)


def test_nms_free_output_without_names_is_refused(make_model):
    with pytest.raises(ModelError, match=r"no 'names' metadata, and its output \[1, 20, 6\] does not tell"):
        ModelInfo.from_onnx(make_model(np.zeros((20, 6), np.float32), metadata={}))


def test_two_outputs_are_refused(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Identity", ["images"], ["a"]), helper.make_node("Identity", ["images"], ["b"])],
        "two",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 8, 8])],
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 3, 8, 8]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 3, 8, 8]),
        ],
    )
    path = tmp_path / "two.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    with pytest.raises(ModelError, match=r"has 2 outputs \['a', 'b'\]"):
        ModelInfo.from_onnx(path)


def test_classification_shaped_output_is_refused(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["images"], ["scores"], axes=[2, 3], keepdims=0)],
        "cls",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 3])],
    )
    path = tmp_path / "cls.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    with pytest.raises(ModelError, match=r"output 'scores' has shape \[1, 3\]; a detection model's output is \[B, 4\+C, N\] or \[B, K, 6\]"):
        ModelInfo.from_onnx(path)


def test_coco_model(coco_model):
    info = ModelInfo.from_onnx(coco_model)
    assert info.num_classes == 80
    assert info.class_names[0] == "person" and info.class_names[79] == "toothbrush"
    assert (info.stride, info.imgsz, info.batch_size) == (32, (640, 640), 1)
    assert (info.input_height, info.input_width, info.num_anchors) == (640, 640, 8400)
    assert info.sha256 == "dca0fc72b6bfc292fe4260926d1ab0c49e9a57c22982319ac82d82e573d55d16"
