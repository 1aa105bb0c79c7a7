"""Static INT8 quantization of a YOLO detection ONNX into explicit Q/DQ form.

ONNX Runtime's ``quantize_static`` does the work: QDQ format, signed INT8 activations with
symmetric ranges (zero point 0, one scale per tensor), signed INT8 weights per output
channel with symmetric ranges, biases left in float; Q/DQ around the convolutions only
(QUANTIZED_OPS).  That is what TensorRT's explicit
quantization takes (convert/qdq_rules.py checks each file before it is written) and what
ONNX Runtime's CPU provider runs (infer/qdq_cpu.py).  The head's final convolutions and
everything after them stay in float (convert/float_tail.py).  The model is prepared first
(convert/prepare.py: opset 13..17, constant folding).
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from jetsentry import __version__
from jetsentry.convert.calibration import CalibrationSet
from jetsentry.convert.files import ConversionError, save_atomically, stamp_metadata
from jetsentry.convert.float_tail import float_tail
from jetsentry.convert.prepare import default_opset, prepared_for_quantization
from jetsentry.convert.progress import Progress
from jetsentry.convert.qdq_rules import MAX_OPSET, check_explicit_quantization
from jetsentry.infer.model_info import ModelInfo

METHODS = ("minmax", "entropy", "percentile")
DEFAULT_METHOD = "percentile"  # docs/QUANTIZATION.md compares the three
DEFAULT_PERCENTILE = 99.999  # ONNX Runtime's own default
DEFAULT_SAMPLES = 128
# Calibration runs this many samples (at most) between merges of their ranges and histograms,
# so memory stays bounded: the histogram methods keep every intermediate tensor of a stride.
_CALIBRATION_STRIDE = 8


@dataclass(frozen=True)
class QuantizeResult:
    path: Path
    float_nodes: int
    final_convs: tuple[str, ...]
    quantized_convs: int
    metadata: dict[str, str]
    warnings: list[str]


def quantize_model(model_path: Path, calibration: CalibrationSet, out: Path, *, method: str = DEFAULT_METHOD,
                   show_progress: bool = True, percentile: float = DEFAULT_PERCENTILE) -> QuantizeResult:
    """Write the INT8 QDQ model of ``model_path`` (an FP32 detection ONNX) to ``out``.

    percentile: with method percentile, the share of each tensor's absolute values (in %) its range keeps."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if method not in METHODS:
        raise ConversionError(f"--method must be one of {', '.join(METHODS)}, got {method!r}")
    info = ModelInfo.from_onnx(model_path)
    if info.precision != "fp32":
        raise ConversionError(f"{model_path} is already a {info.precision} model; quantize the FP32 model")
    warnings: list[str] = []
    model = prepared_for_quantization(onnx.load(str(model_path)), warnings)
    max_opset = max(MAX_OPSET, default_opset(model))  # above 17 only when the converter could not go down
    tail = float_tail(model)
    if not tail.final_convs:
        raise ConversionError(f"{model_path}: no convolution found at the end of the graph; the float-head rule "
                            "(docs/QUANTIZATION.md) needs a YOLO detection graph")
    calibration_methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                           "percentile": CalibrationMethod.Percentile}
    reader = _CalibrationReader(calibration, info, Progress(f"calibrating ({method})", len(calibration))
                                if show_progress else None)
    with tempfile.TemporaryDirectory(prefix="jetsentry-quantize-") as work:
        quantized_path = Path(work) / "quantized.onnx"
        try:
            with _QuietQuantizer():
                quantize_static(
                    model, str(quantized_path), reader,
                    quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    calibrate_method=calibration_methods[method],
                    op_types_to_quantize=list(QUANTIZED_OPS),
                    nodes_to_exclude=sorted(tail.nodes),
                    extra_options={**EXTRA_OPTIONS, "CalibStridedMinMax": reader.stride(),
                                   "CalibPercentile": percentile},
                )
        except ValueError as exc:
            if "bins" not in str(exc):
                raise
            # numpy cannot bin a tensor whose values span (almost) nothing: a dead channel, say.
            raise ConversionError(f"{method} calibration failed: {exc} (a tensor's values span almost nothing "
                                  "on these frames); use --method minmax or entropy, or other calibration frames") from None
        quantized = onnx.load(str(quantized_path))
    if reader.fed < len(calibration):
        raise ConversionError(f"calibration stopped after {reader.fed} of {len(calibration)} samples")
    metadata = {
        "precision": "int8",
        "source_sha256": info.sha256,
        "calibration_method": method,
        "calibration_samples": str(len(calibration)),
        "calibration_sha256": calibration.sha256,
        "quantizer": quantizer_version(),
        "quantization": "QDQ INT8 around the convolutions: activations per tensor, weights per output channel, "
                        "symmetric (zero points 0); in float: what lies between convolutions, and the head's "
                        f"{len(tail.final_convs)} final convolutions with everything after them",
    }
    stamp_metadata(quantized, metadata)
    metadata["tensorrt"] = "8.5 to 11" if max_opset == MAX_OPSET else f"10 and 11 (opset {max_opset})"
    stamp_metadata(quantized, {"tensorrt": metadata["tensorrt"]})
    violations = check_explicit_quantization(quantized, max_opset)
    if violations:  # a quantizer change would be the cause: refuse to write such a file
        raise ConversionError("the quantized model breaks TensorRT's explicit-quantization rules: "
                            + "; ".join(map(str, violations[:5])))
    save_atomically(quantized, out)
    weight_dqs = sum(1 for n in quantized.graph.node if n.op_type == "DequantizeLinear"
                     and n.input[0] in {i.name for i in quantized.graph.initializer})
    return QuantizeResult(out, len(tail), tail.final_convs, weight_dqs, metadata, warnings)


# Q/DQ go on the convolutions' inputs (data and weights) and outputs; everything between two
# convolutions (SiLU, Add, Concat, Split, pooling, resizing, attention) computes in float on
# dequantized tensors.  Measured against ONNX Runtime's default (every supported operator) in
# docs/QUANTIZATION.md: quantizing the SiLU's sigmoid and product too cost most of the accuracy.
QUANTIZED_OPS = ("Conv",)


EXTRA_OPTIONS = {
    "ActivationSymmetric": True,  # zero point 0 on activations: TensorRT supports symmetric quantization only
    "WeightSymmetric": True,
    "CalibTensorRangeSymmetric": True,  # histogram methods pick symmetric ranges too
    "QuantizeBias": False,  # TensorRT takes no INT32 bias DequantizeLinear; it fuses the float bias
}


def quantizer_version() -> str:
    import onnxruntime

    return f"jetsentry {__version__}, onnxruntime {onnxruntime.__version__} quantize_static"


class _CalibrationReader:
    """ONNX Runtime's CalibrationDataReader over a CalibrationSet, in the model's batch size.

    It is read in strides (``set_range``), each calibrated and merged before the next, so the
    histogram methods, which keep every intermediate tensor of what they are fed, hold one
    stride's tensors at a time.
    """

    def __init__(self, calibration: CalibrationSet, info: ModelInfo, progress: Progress | None) -> None:
        self._input = info.input_name
        self._batch = info.batch_size or 1
        self._dtype = np.float16 if info.input_dtype == "float16" else np.float32
        self._samples = calibration.samples
        self._groups = [range(start, min(start + self._batch, len(self._samples)))
                        for start in range(0, len(self._samples), self._batch)]
        self._progress = progress
        self._next, self._end = 0, len(self._groups)
        self.fed = 0

    def __len__(self) -> int:
        return len(self._groups)

    def stride(self) -> int:
        """The largest divisor of the group count up to the stride limit (ONNX Runtime needs one)."""
        return max(d for d in range(1, min(len(self), _CALIBRATION_STRIDE) + 1) if len(self) % d == 0)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._next, self._end = start_index, min(end_index, len(self._groups))

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._next >= self._end:
            return None
        group = [self._samples[i] for i in self._groups[self._next]]
        self._next += 1
        self.fed += len(group)
        if self._progress is not None:
            self._progress.advance(len(group))
        group += [group[-1]] * (self._batch - len(group))  # a static batch is filled with the last sample
        return {self._input: (np.concatenate(group) / np.float32(255)).astype(self._dtype, copy=False)}


class _QuietQuantizer:
    """ONNX Runtime's quantizer logs advice on the root logger and prints its histogram steps to
    stdout: not ours to show (the progress bar says how calibration goes)."""

    def __enter__(self) -> None:
        self._level = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)
        self._stdout = contextlib.redirect_stdout(io.StringIO())
        self._stdout.__enter__()

    def __exit__(self, *exc_info: object) -> None:
        self._stdout.__exit__(*exc_info)
        logging.getLogger().setLevel(self._level)
