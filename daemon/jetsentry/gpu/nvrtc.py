"""Kernels compiled at start with NVRTC and launched through the driver API.

``compile_source`` needs only NVRTC (no GPU), so CI checks that the kernels compile for
the architectures jetsentry runs on (Orin sm_87, Thor, desktop GPUs).
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jetsentry.infer.errors import NvrtcError
from jetsentry.optional import CUDA_PYTHON, missing

try:
    from cuda.bindings import nvrtc
except ImportError as exc:  # pragma: no cover
    raise missing("the GPU path", CUDA_PYTHON, exc) from exc


def _check(result: Any, call: str, program: Any = None) -> Any:
    status, *values = result if isinstance(result, tuple) else (result,)
    if status != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        log = _log(program) if program is not None else ""
        name = getattr(status, "name", str(status))
        raise NvrtcError(f"{call} failed: {name}" + (f"\n{log}" if log else ""), call=call)
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def _log(program: Any) -> str:
    status, size = nvrtc.nvrtcGetProgramLogSize(program)
    if status != nvrtc.nvrtcResult.NVRTC_SUCCESS or size <= 1:
        return ""
    buffer = b" " * size
    (status,) = nvrtc.nvrtcGetProgramLog(program, buffer)
    return buffer.rstrip(b"\0 ").decode(errors="replace") if status == nvrtc.nvrtcResult.NVRTC_SUCCESS else ""


def supported_archs() -> list[int]:
    """The compute capabilities (e.g. 87 for 8.7) this NVRTC can compile for."""
    count = _check(nvrtc.nvrtcGetNumSupportedArchs(), "nvrtcGetNumSupportedArchs")
    return [int(a) for a in _check(nvrtc.nvrtcGetSupportedArchs(), "nvrtcGetSupportedArchs")][:count]


@dataclass(frozen=True)
class CompiledImage:
    data: bytes  # a CUBIN for the exact architecture, or PTX the driver compiles
    kind: str  # "cubin" or "ptx"
    arch: int


def compile_source(source: str, *, arch: int, name: str = "kernel.cu",
                   options: Sequence[str] = ()) -> CompiledImage:
    """Compile CUDA C++ for compute capability ``arch`` (87 = 8.7): a CUBIN when this NVRTC
    knows the architecture, else PTX for the newest one it knows below it (the driver then
    compiles it); NvrtcError with the compiler's log when the source does not compile."""
    archs = supported_archs()
    if arch in archs:
        target, kind = f"--gpu-architecture=sm_{arch}", "cubin"
    else:
        lower = [a for a in archs if a <= arch]
        if not lower:
            raise NvrtcError(f"NVRTC supports architectures {archs[0]}..{archs[-1]}, not {arch}", call="nvrtcCompileProgram")
        arch, kind = lower[-1], "ptx"
        target = f"--gpu-architecture=compute_{arch}"
    program = _check(nvrtc.nvrtcCreateProgram(source.encode(), name.encode(), 0, [], []), "nvrtcCreateProgram")
    try:
        flags = [target.encode(), b"--std=c++14", *(o.encode() for o in options)]
        _check(nvrtc.nvrtcCompileProgram(program, len(flags), flags), f"nvrtcCompileProgram({name})", program)
        if kind == "cubin":
            size = _check(nvrtc.nvrtcGetCUBINSize(program), "nvrtcGetCUBINSize")
            data = b" " * size
            _check(nvrtc.nvrtcGetCUBIN(program, data), "nvrtcGetCUBIN")
        else:
            size = _check(nvrtc.nvrtcGetPTXSize(program), "nvrtcGetPTXSize")
            data = b" " * size
            _check(nvrtc.nvrtcGetPTX(program, data), "nvrtcGetPTX")
        return CompiledImage(data, kind, arch)
    finally:
        _check(nvrtc.nvrtcDestroyProgram(program), "nvrtcDestroyProgram")


class CompiledKernel:
    """One ``extern "C"`` kernel loaded into a device's primary context (kept for the process)."""

    def __init__(self, device: Any, image: CompiledImage, function: str) -> None:
        from jetsentry.gpu.cuda import check, driver

        self._driver = driver
        self._check = check
        device.activate()
        self.device = device
        self.image = image
        self.module = check(driver.cuModuleLoadData(image.data), f"cuModuleLoadData({image.kind} sm_{image.arch})")
        self.function = check(driver.cuModuleGetFunction(self.module, function.encode()),
                              f"cuModuleGetFunction({function})")
        self.name = function

    def launch(self, grid: tuple[int, int, int], block: tuple[int, int, int], stream: int,
               args: Sequence[ctypes._SimpleCData]) -> None:
        """Launch with scalar ``args`` (ctypes values, in the kernel's parameter order)."""
        pointers = (ctypes.c_void_p * len(args))(*[ctypes.addressof(a) for a in args])
        self._check(self._driver.cuLaunchKernel(self.function, *grid, *block, 0, stream,
                                                ctypes.addressof(pointers), 0),
                    f"cuLaunchKernel({self.name})")


def compile_kernel(device: Any, source: str, function: str, *, name: str = "kernel.cu") -> CompiledKernel:
    major, minor = device.info.compute_capability
    return CompiledKernel(device, compile_source(source, arch=major * 10 + minor, name=name), function)
