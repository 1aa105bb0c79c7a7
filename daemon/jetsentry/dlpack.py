"""DLPack capsules for memory jetsentry owns (a decoded picture on the GPU or on the host).

``to_capsule`` builds the classic ``dltensor`` capsule of the DLPack specification
(DLManagedTensor, unversioned): any consumer (``torch.from_dlpack``, ``cupy.from_dlpack``,
``numpy.from_dlpack`` for host memory) can wrap the memory without a copy.  The capsule
keeps ``owner`` alive until the consumer calls the deleter, or until the capsule is
destroyed unconsumed.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

KDL_CPU = 1
KDL_CUDA = 2
KDL_CUDA_HOST = 3  # pinned host memory
_KDL_UINT = 1


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("device", _DLDevice),
        ("ndim", ctypes.c_int32),
        ("dtype", _DLDataType),
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("strides", ctypes.POINTER(ctypes.c_int64)),
        ("byte_offset", ctypes.c_uint64),
    ]


class _DLManagedTensor(ctypes.Structure):
    pass


_DELETER = ctypes.CFUNCTYPE(None, ctypes.POINTER(_DLManagedTensor))
_DLManagedTensor._fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", _DELETER)]

_CAPSULE_NAME = b"dltensor"
_CAPSULE_DESTRUCTOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_pythonapi = ctypes.pythonapi
_pythonapi.PyCapsule_New.restype = ctypes.py_object
_pythonapi.PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, _CAPSULE_DESTRUCTOR]
_pythonapi.PyCapsule_IsValid.restype = ctypes.c_int
_pythonapi.PyCapsule_IsValid.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_pythonapi.PyCapsule_GetPointer.restype = ctypes.c_void_p
_pythonapi.PyCapsule_GetPointer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]

# Live exports: address of the DLManagedTensor -> what must outlive it.
_live: dict[int, tuple[Any, ...]] = {}
_live_lock = threading.Lock()


@_DELETER
def _delete(managed: Any) -> None:
    with _live_lock:
        _live.pop(ctypes.addressof(managed.contents), None)


@_CAPSULE_DESTRUCTOR
def _destroy_capsule(capsule: int) -> None:
    # A consumer renames the capsule to "used_dltensor" and owns the deleter from then on;
    # a capsule still named "dltensor" was never consumed, so its memory is released here.
    if _pythonapi.PyCapsule_IsValid(capsule, _CAPSULE_NAME):
        address = _pythonapi.PyCapsule_GetPointer(capsule, _CAPSULE_NAME)
        with _live_lock:
            _live.pop(address, None)


def to_capsule(*, data: int, shape: tuple[int, ...], strides: tuple[int, ...], device_type: int,
               device_id: int, owner: Any) -> Any:
    """A ``dltensor`` capsule of uint8 memory at ``data``; ``strides`` in elements (bytes)."""
    ndim = len(shape)
    shape_array = (ctypes.c_int64 * ndim)(*shape)
    strides_array = (ctypes.c_int64 * ndim)(*strides)
    managed = _DLManagedTensor()
    managed.dl_tensor.data = data
    managed.dl_tensor.device = _DLDevice(device_type, device_id)
    managed.dl_tensor.ndim = ndim
    managed.dl_tensor.dtype = _DLDataType(_KDL_UINT, 8, 1)
    managed.dl_tensor.shape = shape_array
    managed.dl_tensor.strides = strides_array
    managed.dl_tensor.byte_offset = 0
    managed.manager_ctx = None
    managed.deleter = _delete
    address = ctypes.addressof(managed)
    with _live_lock:
        _live[address] = (managed, shape_array, strides_array, owner)
    return _pythonapi.PyCapsule_New(address, _CAPSULE_NAME, _destroy_capsule)


def live_exports() -> int:
    """How many exported capsules still hold their owner (for tests)."""
    with _live_lock:
        return len(_live)
