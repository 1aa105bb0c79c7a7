"""The CUDA driver API, checked: one device's primary context, its properties and memory.

The primary context is the one the CUDA runtime uses, so ONNX Runtime, TensorRT and
PyNvVideoCodec share memory and streams with it.  A thread makes it current with
``CudaDevice.activate()`` before its first call (cheap; every public method here does it).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from typing import Any

from jetsentry.infer.errors import BackendUnavailableError, CudaError, GpuMemoryError
from jetsentry.optional import CUDA_PYTHON, missing

try:
    from cuda.bindings import driver
except ImportError as exc:  # pragma: no cover - the message is tested through optional.py
    raise missing("the GPU path", CUDA_PYTHON, exc) from exc

MIB = 1 << 20
_init_lock = threading.Lock()
_initialised = False


def check(result: Any, call: str) -> Any:
    """The values of a driver call's result tuple ``(CUresult, *values)``; CudaError naming
    ``call`` and the status when it failed.  One value comes back bare, none as None."""
    status, *values = result if isinstance(result, tuple) else (result,)
    if status != driver.CUresult.CUDA_SUCCESS:
        raise error_for(status, call)
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def error_for(status: Any, call: str) -> CudaError:
    name = getattr(status, "name", str(status))
    description = _description(status)
    kind = GpuMemoryError if status == driver.CUresult.CUDA_ERROR_OUT_OF_MEMORY else CudaError
    return kind(f"{call} failed: {name}{f' ({description})' if description else ''}",
                call=call, status=name, code=int(status))


def _description(status: Any) -> str:
    try:  # needs the driver library; an error raised before cuInit worked has only its name
        err, text = driver.cuGetErrorString(status)
    except Exception:  # noqa: BLE001 - best effort for a message
        return ""
    if err != driver.CUresult.CUDA_SUCCESS or not text:
        return ""
    return text.decode(errors="replace") if isinstance(text, bytes) else str(text)


def init() -> None:
    """cuInit once per process; BackendUnavailableError when there is no driver or no GPU."""
    global _initialised
    with _init_lock:
        if _initialised:
            return
        try:
            result = driver.cuInit(0)
        except Exception as exc:  # cuda.pathfinder raises when libcuda.so cannot be found
            raise BackendUnavailableError(f"no NVIDIA driver on this machine: {exc}") from None
        status = result[0] if isinstance(result, tuple) else result
        if status == driver.CUresult.CUDA_ERROR_NO_DEVICE:
            raise BackendUnavailableError("the NVIDIA driver found no GPU (cuInit: CUDA_ERROR_NO_DEVICE)")
        check(result, "cuInit")
        _initialised = True


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    compute_capability: tuple[int, int]
    total_memory: int  # bytes
    integrated: bool  # shares memory with the CPU (Jetson): pinned host memory is device memory

    @property
    def sm(self) -> str:
        """'sm_87' for compute capability 8.7."""
        return f"sm_{self.compute_capability[0]}{self.compute_capability[1]}"


class CudaDevice:
    """One GPU and its primary context, retained for the life of the process (``get_device``)."""

    def __init__(self, index: int = 0) -> None:
        init()
        count = check(driver.cuDeviceGetCount(), "cuDeviceGetCount")
        if not 0 <= index < count:
            raise BackendUnavailableError(f"GPU {index} does not exist: this machine has {count} CUDA device(s)")
        self.index = index
        self.handle = check(driver.cuDeviceGet(index), "cuDeviceGet")
        self.context = check(driver.cuDevicePrimaryCtxRetain(self.handle), "cuDevicePrimaryCtxRetain")
        self.activate()
        self.info = DeviceInfo(
            index=index,
            name=_device_name(self.handle),
            compute_capability=(self._attribute("COMPUTE_CAPABILITY_MAJOR"),
                                self._attribute("COMPUTE_CAPABILITY_MINOR")),
            total_memory=int(check(driver.cuDeviceTotalMem(self.handle), "cuDeviceTotalMem")),
            integrated=bool(self._attribute("INTEGRATED")),
        )

    def activate(self) -> None:
        """Make this device's primary context current on the calling thread."""
        check(driver.cuCtxSetCurrent(self.context), "cuCtxSetCurrent")

    def memory_info(self) -> tuple[int, int]:
        """(free, total) bytes of device memory now."""
        self.activate()
        free, total = check(driver.cuMemGetInfo(), "cuMemGetInfo")
        return int(free), int(total)

    def synchronize(self) -> None:
        self.activate()
        check(driver.cuCtxSynchronize(), "cuCtxSynchronize")

    def _attribute(self, name: str) -> int:
        attribute = getattr(driver.CUdevice_attribute, f"CU_DEVICE_ATTRIBUTE_{name}")
        return int(check(driver.cuDeviceGetAttribute(attribute, self.handle), f"cuDeviceGetAttribute({name})"))


def _device_name(handle: Any) -> str:
    raw = check(driver.cuDeviceGetName(256, handle), "cuDeviceGetName")
    return raw.split(b"\0", 1)[0].decode(errors="replace").strip()


@functools.lru_cache(maxsize=None)
def get_device(index: int = 0) -> CudaDevice:
    """The process's one CudaDevice for GPU ``index``."""
    return CudaDevice(index)


def check_memory_cap(device: CudaDevice, cap_bytes: int | None, need_bytes: int, what: str) -> None:
    """GpuMemoryError when ``need_bytes`` exceeds the configured cap, or the cap (or the
    need, without a cap) exceeds what the device has free now."""
    free, total = device.memory_info()
    name = f"GPU {device.index} ({device.info.name})"
    if cap_bytes is not None:
        if need_bytes > cap_bytes:
            raise _memory_error(f"{what} needs {need_bytes / MIB:.0f} MiB, more than its cap of "
                                f"{cap_bytes / MIB:.0f} MiB (gpu_mem_limit_mib)")
        if cap_bytes > total:
            raise _memory_error(f"{what}: gpu_mem_limit_mib {cap_bytes / MIB:.0f} is more than {name} has "
                                f"({total / MIB:.0f} MiB)")
        if cap_bytes > free:
            raise _memory_error(f"{what}: gpu_mem_limit_mib {cap_bytes / MIB:.0f} is more than {name} has free "
                                f"now ({free / MIB:.0f} of {total / MIB:.0f} MiB)")
    elif need_bytes > free:
        raise _memory_error(f"{what} needs {need_bytes / MIB:.0f} MiB, more than {name} has free now "
                            f"({free / MIB:.0f} of {total / MIB:.0f} MiB)")


def _memory_error(message: str) -> GpuMemoryError:
    return GpuMemoryError(message, call="cuMemGetInfo", status="insufficient memory", code=0)
