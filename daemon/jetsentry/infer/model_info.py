"""What the daemon needs to know about a YOLO detection ONNX, read from the file itself.

Ultralytics writes its export settings into the ONNX ``metadata_props`` as strings:
``names`` (a Python dict literal), ``stride``, ``imgsz``, ``batch``, ``task``,
``description``, ``version``; jetsentry's own models add ``recipe_hash``.  Only
``ast.literal_eval`` ever reads them: a model file is untrusted input.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
from google.protobuf.message import DecodeError

from jetsentry.infer.errors import ModelError
from jetsentry.infer.output_layout import ANCHORS, DETECTION_FIELDS, OutputLayout, format_dims, layout_of
from jetsentry.infer.precision import Precision, model_precision

_DEFAULT_STRIDE = 32
# Tensor element types the engine can feed (it casts float32 batches to float16 when needed).
_INPUT_DTYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16"}


@dataclass(frozen=True)
class ModelInfo:
    """Identity, classes, input geometry, output layout and precision of one detection model.

    ``batch_size``, ``input_height``, ``input_width``, ``output_channels`` and
    ``num_anchors`` are None where the model declares that dimension dynamic; for the
    ``detections`` layout ``num_anchors`` is the number of detection rows K and
    ``output_channels`` is 6.  ``output_layout`` (infer/output_layout.py) is None only
    while dynamic output dimensions leave it open, until a test run decides
    (engine.check_output).
    """

    path: Path
    name: str
    version: str
    sha256: str
    task: str
    class_names: tuple[str, ...] = field(repr=False)
    stride: int
    imgsz: tuple[int, int] | None  # (h, w) the model was exported for, from metadata
    input_name: str
    input_dtype: str  # "float32" or "float16"
    output_name: str
    batch_size: int | None
    input_height: int | None
    input_width: int | None
    num_anchors: int | None
    output_channels: int | None = None  # 4 + classes when static; a dynamic one is checked by a test run
    output_layout: OutputLayout | None = ANCHORS
    precision: Precision = "fp32"  # of the file: fp32, fp16 or int8 (QDQ)
    description: str = ""
    recipe_hash: str | None = None
    metadata: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def needs_nms(self) -> bool:
        """The output holds per-anchor candidates, not final detections."""
        return self.output_layout == ANCHORS

    @property
    def dynamic_batch(self) -> bool:
        return self.batch_size is None

    @property
    def dynamic_hw(self) -> bool:
        return self.input_height is None

    @classmethod
    def from_onnx(cls, path: str | Path) -> ModelInfo:
        path = Path(path)
        model = _load_onnx(path)
        metadata = {prop.key: prop.value for prop in model.metadata_props}
        where = f"model.path {path}"

        task = metadata.get("task", "detect")
        if task != "detect":
            raise ModelError(f"{where} is a {task!r} model; jetsentry needs a detection model "
                             "(output [B, 4+C, N] or [B, K, 6])")

        input_value = _single_graph_input(model, where)
        input_dims = _dims(input_value)
        if len(input_dims) != 4 or input_dims[1] not in (3, None):
            raise ModelError(f"{where}: input {input_value.name!r} has shape {format_dims(input_dims)}, expected [B, 3, H, W]")
        elem_type = input_value.type.tensor_type.elem_type
        if elem_type not in _INPUT_DTYPES:
            raise ModelError(
                f"{where}: input {input_value.name!r} has element type "
                f"{onnx.TensorProto.DataType.Name(elem_type)}, expected FLOAT or FLOAT16"
            )
        batch, height, width = input_dims[0], input_dims[2], input_dims[3]
        if (height is None) != (width is None):
            raise ModelError(
                f"{where}: input height and width must both be static or both dynamic, got {format_dims(input_dims)}"
            )

        if len(model.graph.output) != 1:
            names = [o.name for o in model.graph.output]
            raise ModelError(
                f"{where} has {len(names)} outputs {names}; a detection model has one output, [B, 4+C, N] or "
                "[B, K, 6] (segmentation, pose and OBB models are not supported)"
            )
        output_value = model.graph.output[0]
        output_dims = _dims(output_value)
        what = f"{where}: output {output_value.name!r}"
        if len(output_dims) != 3:
            layout_of(output_dims, 0, what)  # raises, naming the shape
        class_names = _class_names(metadata, output_dims, where)
        layout = layout_of(output_dims, len(class_names), what)
        channels, anchors = output_dims[1], output_dims[2]
        if layout == "detections":
            channels, anchors = DETECTION_FIELDS, output_dims[1]

        stride = _int_field(metadata, "stride", _DEFAULT_STRIDE, where)
        imgsz = _imgsz(metadata, where)
        if imgsz is None and height is not None:
            imgsz = (height, width)
        return cls(
            path=path,
            name=metadata.get("name") or path.stem,
            version=metadata.get("version", ""),
            sha256=_sha256(path),
            task=task,
            class_names=class_names,
            stride=stride,
            imgsz=imgsz,
            input_name=input_value.name,
            input_dtype=_INPUT_DTYPES[elem_type],
            output_name=output_value.name,
            batch_size=batch,
            input_height=height,
            input_width=width,
            num_anchors=anchors,
            output_channels=channels,
            output_layout=layout,
            precision=model_precision(model),
            description=metadata.get("description", ""),
            recipe_hash=metadata.get("recipe_hash"),
            metadata=metadata,
        )


def check_output_shape(shape: tuple[int, ...], info: ModelInfo, what: str) -> OutputLayout:
    """The layout of an output a run returned: ModelError naming the shape when it is no
    detection output for the model's classes, or not the layout the file declares."""
    layout = layout_of(list(shape), info.num_classes, what)
    if info.output_layout is not None and layout != info.output_layout:
        raise ModelError(f"{what} has shape {format_dims(list(shape))}, but the file declares an output "
                         f"of the {info.output_layout} layout")
    return layout


def _load_onnx(path: Path) -> onnx.ModelProto:
    if not path.exists():
        raise ModelError(f"model.path {path} does not exist")
    if not path.is_file():
        raise ModelError(f"model.path {path} is not a file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelError(f"model.path {path} is not an ONNX model: {exc}") from None
    # Some non-ONNX bytes decode as an empty protobuf message.
    if model.ir_version <= 0 or not model.graph.output:
        raise ModelError(f"model.path {path} is not an ONNX model: it has no graph outputs")
    return model


def _single_graph_input(model: onnx.ModelProto, where: str) -> onnx.ValueInfoProto:
    # Older exporters list initializers among the graph inputs.
    initializers = {init.name for init in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in initializers]
    if len(inputs) != 1:
        raise ModelError(f"{where} has {len(inputs)} inputs {[v.name for v in inputs]}; expected one image input")
    return inputs[0]


def _dims(value: onnx.ValueInfoProto) -> list[int | None]:
    """Static dims as ints, symbolic or unknown ones as None."""
    shape = value.type.tensor_type.shape
    return [dim.dim_value if dim.HasField("dim_value") and dim.dim_value > 0 else None for dim in shape.dim]




def _literal(metadata: dict[str, str], key: str, where: str) -> Any:
    try:
        return ast.literal_eval(metadata[key])
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ModelError(f"{where}: metadata {key!r} is not a Python literal: {exc}") from None


def _class_names(metadata: dict[str, str], output_dims: list[int | None], where: str) -> tuple[str, ...]:
    if "names" not in metadata:
        rows, columns = output_dims[1], output_dims[2]
        if columns == DETECTION_FIELDS:
            raise ModelError(f"{where} has no 'names' metadata, and its output {format_dims(output_dims)} "
                             "does not tell the class count")
        if rows is None:
            raise ModelError(f"{where} has neither 'names' metadata nor a static class count in its output shape")
        if rows <= 4:
            raise ModelError(f"{where}: output has {rows} channels; a detection head has 4 + classes")
        return tuple(f"class{i}" for i in range(rows - 4))
    names = _literal(metadata, "names", where)
    if isinstance(names, dict):
        if sorted(names) != list(range(len(names))):
            raise ModelError(f"{where}: metadata 'names' keys must be the class ids 0..{len(names) - 1}")
        names = [names[i] for i in range(len(names))]
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
        raise ModelError(f"{where}: metadata 'names' must be a non-empty dict or list of class names")
    return tuple(names)


def _int_field(metadata: dict[str, str], key: str, default: int, where: str) -> int:
    if key not in metadata:
        return default
    value = _literal(metadata, key, where)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ModelError(f"{where}: metadata {key!r} must be a positive integer, got {metadata[key]!r}")
    return value


def _imgsz(metadata: dict[str, str], where: str) -> tuple[int, int] | None:
    if "imgsz" not in metadata:
        return None
    value = _literal(metadata, "imgsz", where)
    if isinstance(value, int):
        value = [value, value]
    if (
        not isinstance(value, (list, tuple))
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise ModelError(f"{where}: metadata 'imgsz' must be [height, width], got {metadata['imgsz']!r}")
    return int(value[0]), int(value[1])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
