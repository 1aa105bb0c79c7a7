"""Device memory shared between processes (CUDA IPC): a cuMemAlloc allocation exported as
64 bytes in one process and mapped into another's address space.

The driver's rules (cuIpcOpenMemHandle's documentation): the exporting process must not
free the allocation before every importer closed its mapping, and each importing
process maps a given handle once per device.  Linux only; not on Jetson Orin's
integrated GPU (which the decoder processes that use this do not run on).
"""

from __future__ import annotations

import ctypes

from jetsentry.capture.decoder_link import HANDLE_BYTES
from jetsentry.gpu.cuda import CudaDevice, check, driver


def export_handle(device: CudaDevice, ptr: int) -> bytes:
    """The IPC handle of the cuMemAlloc allocation starting at ``ptr``."""
    device.activate()
    handle = check(driver.cuIpcGetMemHandle(ptr), "cuIpcGetMemHandle")
    return ctypes.string_at(handle.getPtr(), HANDLE_BYTES)  # the struct's bytes: the binding has no accessor


def open_handle(device: CudaDevice, data: bytes) -> int:
    """The local address of an allocation another process exported as ``data``."""
    if len(data) != HANDLE_BYTES:
        raise ValueError(f"a CUDA IPC handle is {HANDLE_BYTES} bytes, got {len(data)}")
    device.activate()
    handle = driver.CUipcMemHandle()
    ctypes.memmove(handle.getPtr(), data, HANDLE_BYTES)
    flags = driver.CUipcMem_flags.CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS
    return int(check(driver.cuIpcOpenMemHandle(handle, flags), "cuIpcOpenMemHandle"))


def close_handle(device: CudaDevice, ptr: int) -> None:
    """Unmap an allocation opened with open_handle."""
    device.activate()
    check(driver.cuIpcCloseMemHandle(ptr), "cuIpcCloseMemHandle")
