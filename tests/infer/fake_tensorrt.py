"""A FAKE of the TensorRT Python API subset jetsentry uses, for tests.

It is not TensorRT and proves nothing about whether TensorRT accepts a model or an
engine.  What it does:

- checks the build calls jetsentry makes, per TensorRT major version (8.x, 10.x, 11.x):
  network creation flags, precision flags (absent in 11.x, refused with a strongly typed
  network), the workspace pool limit, the optimization profile, DLA settings, the timing
  cache; every call is recorded in ``calls`` for assertions;
- "builds" an engine that is the ONNX model behind a header naming the TensorRT version
  and settings that built it; a runtime of another version refuses it, as TensorRT does;
- executes that engine with ONNX Runtime's CUDA provider on the very device pointers
  the backend set, after synchronising the stream it was given, so on a GPU the backend's
  own buffers, streams and copies run end to end.  Output shapes come from ONNX Runtime
  on the CPU.
"""

from __future__ import annotations

import enum
import json
import types
from pathlib import Path

import numpy as np
import onnx

MAGIC = b"FAKE-TENSORRT-ENGINE\n"


class _Severity(enum.IntEnum):
    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


class ILogger:
    Severity = _Severity

    def __init__(self) -> None:
        pass

    def log(self, severity, msg) -> None:  # overridden by jetsentry's logger
        pass


class DataType(enum.IntEnum):
    FLOAT = 0
    HALF = 1
    INT8 = 2
    INT32 = 3


class TensorIOMode(enum.IntEnum):
    NONE = 0
    INPUT = 1
    OUTPUT = 2


class MemoryPoolType(enum.IntEnum):
    WORKSPACE = 0


class DeviceType(enum.IntEnum):
    GPU = 0
    DLA = 1


_NP = {DataType.FLOAT: np.float32, DataType.HALF: np.float16, DataType.INT8: np.int8, DataType.INT32: np.int32}
_ONNX = {onnx.TensorProto.FLOAT: DataType.FLOAT, onnx.TensorProto.FLOAT16: DataType.HALF}


def make_fake_tensorrt(version: str = "10.3.0", *, fail_build: bool = False, device_memory: int = 1 << 20):
    """A module-like object standing in for ``import tensorrt`` at ``version``."""
    major = int(version.split(".")[0])
    fake = types.SimpleNamespace(__version__=version, calls=[], ILogger=ILogger, Logger=ILogger, DataType=DataType,
                                 TensorIOMode=TensorIOMode, MemoryPoolType=MemoryPoolType, DeviceType=DeviceType)
    fake.nptype = lambda dtype: _NP[dtype]
    if major == 8:
        fake.NetworkDefinitionCreationFlag = enum.IntEnum("NetworkDefinitionCreationFlag", {"EXPLICIT_BATCH": 0, "EXPLICIT_PRECISION": 1})
        fake.BuilderFlag = enum.IntEnum("BuilderFlag", {"FP16": 0, "INT8": 1, "GPU_FALLBACK": 3, "STRICT_TYPES": 5})
    elif major == 10:
        fake.NetworkDefinitionCreationFlag = enum.IntEnum("NetworkDefinitionCreationFlag", {"EXPLICIT_BATCH": 0, "STRONGLY_TYPED": 1})
        fake.BuilderFlag = enum.IntEnum("BuilderFlag", {"FP16": 0, "INT8": 1, "GPU_FALLBACK": 3})
    else:  # 11.x: strongly typed only; the precision flags are gone
        fake.NetworkDefinitionCreationFlag = enum.IntEnum("NetworkDefinitionCreationFlag", {"STRONGLY_TYPED": 0})
        fake.BuilderFlag = enum.IntEnum("BuilderFlag", {"GPU_FALLBACK": 3})
    if major >= 10:
        class IProgressMonitor:
            def __init__(self) -> None:
                pass
        fake.IProgressMonitor = IProgressMonitor

    def record(name, *args):
        fake.calls.append((name, *args))

    class _Network:
        def __init__(self, flags):
            self.flags = flags
            self.model_path = None
            self.strongly_typed = (major == 11) or (major == 10 and bool(flags & (1 << int(fake.NetworkDefinitionCreationFlag.STRONGLY_TYPED))))

    class OnnxParser:
        def __init__(self, network, logger):
            self.network, self.logger, self.errors = network, logger, []
            record("OnnxParser")

        def parse_from_file(self, path):
            record("parse_from_file", path)
            if major == 8 and not self.network.flags & 1:
                self.errors = ["network must be created with EXPLICIT_BATCH"]
                return False
            try:
                model = onnx.load(path)
            except Exception as exc:  # noqa: BLE001 - the parser reports, never raises
                self.errors = [f"ModelImporter: failed to parse ONNX model: {exc.__class__.__name__}"]
                return False
            self.network.model_path = path
            self.network.model = model
            return True

        @property
        def num_errors(self):
            return len(self.errors)

        def get_error(self, index):
            return self.errors[index]

    class _Profile:
        def __init__(self):
            self.shapes = {}

        def set_shape(self, name, min, opt, max):  # noqa: A002 - TensorRT's parameter names
            record("set_shape", name, tuple(min), tuple(opt), tuple(max))
            if not all(a <= b <= c for a, b, c in zip(min, opt, max)):
                raise ValueError("profile dimensions must satisfy min <= opt <= max")
            self.shapes[name] = (tuple(min), tuple(opt), tuple(max))

    class _TimingCache:
        def __init__(self, data):
            self.data = data

        def serialize(self):
            return b"fake timing cache " + fake.__version__.encode()

    class _Config:
        def __init__(self):
            self.flags, self.profiles, self.pools = set(), [], {}
            self.default_device_type, self.DLA_core, self.timing_cache = DeviceType.GPU, -1, None

        def set_memory_pool_limit(self, pool, size):
            record("set_memory_pool_limit", pool, size)
            self.pools[pool] = size

        def set_flag(self, flag):
            record("set_flag", flag.name)
            self.flags.add(flag.name)

        def add_optimization_profile(self, profile):
            self.profiles.append(profile)
            return len(self.profiles) - 1

        def create_timing_cache(self, data):
            record("create_timing_cache", bytes(data))
            return _TimingCache(bytes(data))

        def set_timing_cache(self, cache, ignore_mismatch):
            record("set_timing_cache", ignore_mismatch)
            self.timing_cache = cache
            return True

        def get_timing_cache(self):
            return self.timing_cache

    class Builder:
        def __init__(self, logger):
            self.logger = logger
            record("Builder")

        def create_network(self, flags=0):
            record("create_network", flags)
            return _Network(flags)

        def create_builder_config(self):
            return _Config()

        def create_optimization_profile(self):
            return _Profile()

        def build_serialized_network(self, network, config):
            record("build_serialized_network")
            problem = None
            if fail_build:
                problem = "fake build failure"
            elif network.strongly_typed and config.flags & {"FP16", "INT8"}:
                problem = "precision flags are not allowed with a strongly typed network"
            elif network.model_path is None:
                problem = "the network is empty"
            elif len(config.profiles) != 1:
                problem = f"expected one optimization profile, got {len(config.profiles)}"
            if problem:
                self.logger.log(ILogger.Severity.ERROR, problem)
                return None
            model = network.model
            inp, out = model.graph.input[0], model.graph.output[0]
            header = {"version": fake.__version__, "input": inp.name, "output": out.name,
                      "input_dtype": int(_ONNX[inp.type.tensor_type.elem_type]),
                      "output_dtype": int(_ONNX[out.type.tensor_type.elem_type]),
                      "profile": [list(s) for s in config.profiles[0].shapes[inp.name]],
                      "flags": sorted(config.flags), "dla_core": config.DLA_core if config.default_device_type == DeviceType.DLA else None,
                      "workspace": config.pools.get(MemoryPoolType.WORKSPACE)}
            return MAGIC + json.dumps(header).encode() + b"\n" + Path(network.model_path).read_bytes()

    class Runtime:
        def __init__(self, logger):
            self.logger, self.DLA_core = logger, -1
            record("Runtime")

        def deserialize_cuda_engine(self, data):
            record("deserialize_cuda_engine")
            data = bytes(data)
            if not data.startswith(MAGIC):
                self.logger.log(ILogger.Severity.ERROR, "1: [runtime.cpp::parsePlan] Error Code 1: Serialization (not an engine)")
                return None
            header_line, model_bytes = data[len(MAGIC):].split(b"\n", 1)
            header = json.loads(header_line)
            if header["version"] != fake.__version__:
                self.logger.log(ILogger.Severity.ERROR, f"The engine plan file is not compatible with this version of TensorRT, "
                                f"expecting library version {fake.__version__} got {header['version']}")
                return None
            return _Engine(header, model_bytes)

    class _Engine:
        def __init__(self, header, model_bytes):
            self.header, self.model_bytes = header, model_bytes
            self.names = [header["input"], header["output"]]
            self._cpu = None
            self._gpu = None
            if major >= 10:
                self.device_memory_size_v2 = device_memory
            if major <= 10:
                self.device_memory_size = device_memory

        def output_shape(self, input_shape):
            import onnxruntime as ort

            if self._cpu is None:
                self._cpu = ort.InferenceSession(self.model_bytes, providers=["CPUExecutionProvider"])
            dtype = _NP[DataType(self.header["input_dtype"])]
            (out,) = self._cpu.run(None, {self.header["input"]: np.zeros(input_shape, dtype)})
            return tuple(out.shape)

        def gpu_session(self):
            import onnxruntime as ort

            if self._gpu is None:
                if "CUDAExecutionProvider" not in ort.get_available_providers():
                    raise RuntimeError("the fake TensorRT executes through ONNX Runtime's CUDA provider, which is missing")
                self._gpu = ort.InferenceSession(self.model_bytes, providers=["CUDAExecutionProvider"])
            return self._gpu

        def create_execution_context(self):
            record("create_execution_context")
            return _Context(self)

        # 10.x / 11.x names
        @property
        def num_io_tensors(self):
            self._require(10)
            return 2

        def get_tensor_name(self, index):
            self._require(10)
            return self.names[index]

        def get_tensor_mode(self, name):
            self._require(10)
            return TensorIOMode.INPUT if name == self.header["input"] else TensorIOMode.OUTPUT

        def get_tensor_dtype(self, name):
            self._require(10)
            return DataType(self.header["input_dtype" if name == self.header["input"] else "output_dtype"])

        def get_tensor_profile_shape(self, name, profile):
            self._require(10)
            return [tuple(s) for s in self.header["profile"]]

        # 8.x bindings
        @property
        def num_bindings(self):
            self._require(8, only=True)
            return 2

        def get_binding_name(self, index):
            self._require(8, only=True)
            return self.names[index]

        def binding_is_input(self, index):
            self._require(8, only=True)
            return index == 0

        def get_binding_dtype(self, index):
            self._require(8, only=True)
            return DataType(self.header["input_dtype" if index == 0 else "output_dtype"])

        def get_profile_shape(self, profile, index):
            self._require(8, only=True)
            return [tuple(s) for s in self.header["profile"]]

        def _require(self, version, only=False):
            if (only and major != version) or major < version:
                raise AttributeError(f"TensorRT {fake.__version__} has no such engine method")

    class _Context:
        def __init__(self, engine):
            self.engine = engine
            self.input_shape = None
            self.addresses = {}

        def _in_profile(self, shape):
            low, _opt, high = self.engine.header["profile"]
            return len(shape) == len(low) and all(a <= s <= b for a, s, b in zip(low, shape, high))

        def set_input_shape(self, name, shape):
            record("set_input_shape", name, tuple(shape))
            if major < 10 or name != self.engine.header["input"] or not self._in_profile(shape):
                return False
            self.input_shape = tuple(shape)
            return True

        def get_tensor_shape(self, name):
            if name == self.engine.header["input"]:
                return self.input_shape
            return self.engine.output_shape(self.input_shape)

        def set_tensor_address(self, name, ptr):
            self.addresses[name] = int(ptr)
            return name in self.engine.names

        def execute_async_v3(self, stream_handle):
            record("execute_async_v3", stream_handle)
            if major < 10:
                raise AttributeError("execute_async_v3 is not used with TensorRT 8.x here")
            return self._run(self.addresses[self.engine.names[0]], self.addresses[self.engine.names[1]], stream_handle)

        # 8.x
        def set_binding_shape(self, index, shape):
            record("set_binding_shape", index, tuple(shape))
            if major != 8 or index != 0 or not self._in_profile(shape):
                return False
            self.input_shape = tuple(shape)
            return True

        def get_binding_shape(self, index):
            return self.input_shape if index == 0 else self.engine.output_shape(self.input_shape)

        def execute_async_v2(self, bindings, stream_handle):
            record("execute_async_v2", list(bindings), stream_handle)
            if major != 8:
                raise AttributeError("execute_async_v2 was removed in TensorRT 10")
            return self._run(bindings[0], bindings[1], stream_handle)

        def _run(self, input_ptr, output_ptr, stream_handle):
            from cuda.bindings import driver

            (status,) = driver.cuStreamSynchronize(stream_handle)  # work queued before us comes first
            if status != driver.CUresult.CUDA_SUCCESS:
                return False
            header = self.engine.header
            session = self.engine.gpu_session()
            binding = session.io_binding()
            binding.bind_input(header["input"], "cuda", 0, _NP[DataType(header["input_dtype"])],
                               list(self.input_shape), input_ptr)
            binding.bind_output(header["output"], "cuda", 0, _NP[DataType(header["output_dtype"])],
                                list(self.engine.output_shape(self.input_shape)), output_ptr)
            session.run_with_iobinding(binding)
            return True

    fake.OnnxParser, fake.Builder, fake.Runtime = OnnxParser, Builder, Runtime
    return fake


def engine_header(data: bytes) -> dict:
    """The build settings a fake engine records."""
    return json.loads(bytes(data)[len(MAGIC):].split(b"\n", 1)[0])
