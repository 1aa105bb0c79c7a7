"""Building a TensorRT engine from a detection ONNX, for TensorRT 8.5/8.6, 10.x and 11.x.

Precision comes from the model file, never from a calibrator: an explicitly quantized
(QDQ) ONNX gives INT8 and an FP16 ONNX gives FP16 on every version.  TensorRT 10.x and
11.x build strongly typed networks (the types are the model's); 8.x has no strong
typing, so a QDQ model gets the INT8 builder flag and an FP16 model the FP16 flag.
TensorRT 11 removed implicit INT8 (``IInt8Calibrator``) and the weak-typing flags, so
nothing here uses them.

Calls follow NVIDIA's TensorRT Python API documentation of each version:
- 8.5/8.6: https://docs.nvidia.com/deeplearning/tensorrt/archives/tensorrt-861/api/python_api/infer/Core/Builder.html
  (EXPLICIT_BATCH is required, ``set_memory_pool_limit`` replaces ``max_workspace_size`` since 8.4)
- 10.x: https://docs.nvidia.com/deeplearning/tensorrt/latest/_static/python-api/infer/Core/Builder.html
  (EXPLICIT_BATCH deprecated and ignored; ``1 << int(STRONGLY_TYPED)`` for strong typing;
  ``IProgressMonitor`` for build progress)
- 11.x: https://docs.nvidia.com/deeplearning/tensorrt/11.0.0/_static/python-api/infer/Core/Builder.html
  and the 10.x-to-11.x Python migration list
  https://docs.nvidia.com/deeplearning/tensorrt/11.4.0/api/migration/tensorrt-10x-to-11x-python-api-reference.html
  (strongly typed always; EXPLICIT_BATCH gone; BuilderFlag.FP16/INT8, int8_calibrator removed)
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from jetsentry.infer.engine_cache import BuildEnvironment, BuildSettings, l4t_release
from jetsentry.infer.errors import EngineBuildError, TensorRTError
from jetsentry.infer.model_info import ModelInfo

log = logging.getLogger("jetsentry.engines")
MIB = 1 << 20
SUPPORTED_MAJORS = (8, 10, 11)


def tensorrt_major(trt: Any) -> int:
    """TensorRT's major version; TensorRTError for versions jetsentry was not written for."""
    version = str(getattr(trt, "__version__", "0"))
    major = int(version.split(".", 1)[0]) if version.split(".", 1)[0].isdigit() else 0
    minor = version.split(".")[1] if version.count(".") else "0"
    if major not in SUPPORTED_MAJORS or (major == 8 and minor.isdigit() and int(minor) < 5):
        raise TensorRTError(f"TensorRT {version} is not supported: jetsentry runs TensorRT 8.5/8.6 (JetPack 5.1/6.0), "
                            "10.x and 11.x", call="tensorrt.__version__")
    return major


def network_flags(trt: Any, major: int) -> int:
    """``create_network`` flags: explicit batch on 8.x, strong typing on 10.x, none on 11.x
    (strongly typed is the only mode there)."""
    flag = trt.NetworkDefinitionCreationFlag
    if major == 8:
        return 1 << int(flag.EXPLICIT_BATCH)
    if major == 10:
        return 1 << int(flag.STRONGLY_TYPED)
    return 0


def build_settings(info: ModelInfo, backend: Any, *, max_batch: int, input_size: int, major: int) -> BuildSettings:
    """The profile and builder settings for a model under a ``tensorrt`` backend config."""
    if info.batch_size is not None:
        low = opt = high = info.batch_size
    else:
        high = max_batch
        opt = min(backend.opt_batch or high, high)
        low = 1
    if info.dynamic_hw:
        if input_size % info.stride:
            raise ValueError(f"model.input_size {input_size} must be a multiple of the model stride {info.stride}")
        # A letterboxed batch is at most input_size square; the smallest is one stride cell.
        small, large = (info.stride, info.stride), (input_size, input_size)
    else:
        small = large = (info.input_height, info.input_width)
    if backend.dla_core is not None and info.precision == "fp32":
        raise ValueError(f"model.backend.dla_core: the DLA runs FP16 or INT8 only; {info.path.name} is an FP32 "
                         "model (make an FP16 or INT8 model with `jetsentry models fp16|quantize`)")
    return BuildSettings(
        precision=info.precision,
        input_name=info.input_name,
        min_shape=(low, 3, *small),
        opt_shape=(opt, 3, *large),
        max_shape=(high, 3, *large),
        workspace_mib=backend.workspace_mib,
        dla_core=backend.dla_core,
        gpu_fallback=backend.gpu_fallback,
        strongly_typed=major >= 10,
    )


def build_environment(trt: Any, device_info: Any) -> BuildEnvironment:
    major, minor = device_info.compute_capability
    return BuildEnvironment(tensorrt_version=str(trt.__version__), gpu_name=device_info.name,
                            compute_capability=f"{major}.{minor}", l4t_release=l4t_release())


def make_logger(trt: Any) -> Any:
    """A TensorRT logger that forwards to Python logging and keeps the last errors for messages."""

    class _Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            severities = trt.ILogger.Severity
            if severity in (severities.INTERNAL_ERROR, severities.ERROR):
                self.errors = (self.errors + [msg])[-10:]
                log.error("TensorRT: %s", msg)
            elif severity == severities.WARNING:
                log.warning("TensorRT: %s", msg)
            else:
                log.debug("TensorRT: %s", msg)

    return _Logger()


def _progress_monitor(trt: Any) -> Any | None:
    """Build progress in the log (TensorRT 10+ has IProgressMonitor; 8.x builds silently)."""
    base = getattr(trt, "IProgressMonitor", None)
    if base is None:
        return None

    class _Progress(base):
        def __init__(self) -> None:
            base.__init__(self)
            self._last = 0.0

        def phase_start(self, phase_name: str, parent_phase: str | None, num_steps: int) -> None:
            if parent_phase is None:
                log.info("building engine: %s (%d steps)", phase_name, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            now = time.monotonic()
            if now - self._last > 10:  # one line every 10 s at most
                self._last = now
                log.info("building engine: %s, step %d", phase_name, step + 1)
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            pass

    return _Progress()


def build_engine(trt: Any, onnx_path: Path, settings: BuildSettings, *, major: int,
                 timing_cache: bytes | None) -> tuple[bytes, bytes | None]:
    """(serialised engine, serialised timing cache); EngineBuildError with TensorRT's errors."""
    logger = make_logger(trt)
    builder = trt.Builder(logger)
    if builder is None:
        raise EngineBuildError("trt.Builder returned no builder (is a GPU visible?)", call="trt.Builder")
    network = builder.create_network(network_flags(trt, major))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        problems = [str(parser.get_error(i)) for i in range(parser.num_errors)] or logger.errors
        raise EngineBuildError(f"TensorRT's ONNX parser refused {onnx_path}: {'; '.join(problems) or 'no reason given'}",
                               call="OnnxParser.parse_from_file")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, settings.workspace_mib * MIB)
    if major == 8:  # weakly typed: allow the precision the model file was made for
        if settings.precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)  # Q/DQ scales come from the model, no calibrator
        elif settings.precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
    if settings.dla_core is not None:
        config.default_device_type = trt.DeviceType.DLA
        config.DLA_core = settings.dla_core
        if settings.gpu_fallback:
            config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    profile = builder.create_optimization_profile()
    profile.set_shape(settings.input_name, settings.min_shape, settings.opt_shape, settings.max_shape)
    config.add_optimization_profile(profile)
    cache = config.create_timing_cache(timing_cache or b"")
    config.set_timing_cache(cache, False)  # a cache from another TensorRT or GPU is refused, not used
    monitor = _progress_monitor(trt)
    if monitor is not None:
        config.progress_monitor = monitor
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        reason = "; ".join(logger.errors) or "see the TensorRT errors above"
        raise EngineBuildError(f"TensorRT could not build an engine from {onnx_path}: {reason}",
                               call="Builder.build_serialized_network")
    new_cache = config.get_timing_cache()
    return bytes(serialized), (bytes(new_cache.serialize()) if new_cache is not None else None)
