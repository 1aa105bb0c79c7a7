"""Device and pinned host memory, streams, events and copies, each freed explicitly.

Owners allocate once (buffers sized for the largest batch) and call ``free()`` from
their own ``close()``; nothing is freed in ``__del__`` (a finaliser may run on any
thread, with no context current, after the context is gone).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

from jetsentry.gpu.cuda import CudaDevice, check, driver


class DeviceBuffer:
    """``nbytes`` of device memory (cuMemAlloc: 256-byte aligned)."""

    def __init__(self, device: CudaDevice, nbytes: int) -> None:
        if nbytes <= 0:
            raise ValueError(f"a device buffer needs a positive size, got {nbytes}")
        device.activate()
        self.device = device
        self.nbytes = int(nbytes)
        self.ptr = int(check(driver.cuMemAlloc(self.nbytes), f"cuMemAlloc({self.nbytes} bytes)"))

    def free(self) -> None:
        if self.ptr:
            self.device.activate()
            ptr, self.ptr = self.ptr, 0
            check(driver.cuMemFree(ptr), "cuMemFree")


class PinnedBuffer:
    """Page-locked host memory, mapped into the device's address space.

    ``array`` is a uint8 NumPy view of it; ``device_ptr`` the address kernels use to read
    it directly (on an integrated GPU, a Jetson, that is the fast path: no copy).
    """

    def __init__(self, device: CudaDevice, nbytes: int) -> None:
        if nbytes <= 0:
            raise ValueError(f"a pinned buffer needs a positive size, got {nbytes}")
        device.activate()
        self.device = device
        self.nbytes = int(nbytes)
        flags = driver.CU_MEMHOSTALLOC_PORTABLE | driver.CU_MEMHOSTALLOC_DEVICEMAP
        self.ptr = int(check(driver.cuMemHostAlloc(self.nbytes, flags), f"cuMemHostAlloc({self.nbytes} bytes)"))
        self.device_ptr = int(check(driver.cuMemHostGetDevicePointer(self.ptr, 0), "cuMemHostGetDevicePointer"))
        self.array = np.ctypeslib.as_array((ctypes.c_uint8 * self.nbytes).from_address(self.ptr))

    def view(self, dtype: np.dtype | type, shape: tuple[int, ...]) -> np.ndarray:
        """The first bytes of the buffer as an array of ``shape``."""
        count = int(np.prod(shape)) * np.dtype(dtype).itemsize
        if count > self.nbytes:
            raise ValueError(f"{shape} {np.dtype(dtype)} needs {count} bytes; the pinned buffer has {self.nbytes}")
        return self.array[:count].view(dtype).reshape(shape)

    def free(self) -> None:
        if self.ptr:
            self.device.activate()
            ptr, self.ptr = self.ptr, 0
            self.array = np.empty(0, np.uint8)  # the memory behind the old view is gone
            check(driver.cuMemFreeHost(ptr), "cuMemFreeHost")


class Stream:
    """A non-blocking CUDA stream (does not synchronise with the legacy default stream)."""

    def __init__(self, device: CudaDevice) -> None:
        device.activate()
        self.device = device
        self._stream = check(driver.cuStreamCreate(driver.CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate")
        self.handle = int(self._stream)

    def synchronize(self) -> None:
        check(driver.cuStreamSynchronize(self._stream), "cuStreamSynchronize")

    def destroy(self) -> None:
        if self.handle:
            self.device.activate()
            self.handle = 0
            check(driver.cuStreamDestroy(self._stream), "cuStreamDestroy")


class Event:
    """A CUDA event; ``timing`` ones can measure elapsed time between two records."""

    def __init__(self, device: CudaDevice, *, timing: bool = False) -> None:
        device.activate()
        self.device = device
        flags = driver.CUevent_flags.CU_EVENT_DEFAULT if timing else driver.CUevent_flags.CU_EVENT_DISABLE_TIMING
        self._event = check(driver.cuEventCreate(flags), "cuEventCreate")

    def record(self, stream: Stream | int) -> None:
        check(driver.cuEventRecord(self._event, _handle(stream)), "cuEventRecord")

    def synchronize(self) -> None:
        check(driver.cuEventSynchronize(self._event), "cuEventSynchronize")

    def elapsed_ms(self, since: Event) -> float:
        return float(check(driver.cuEventElapsedTime(since._event, self._event), "cuEventElapsedTime"))

    def destroy(self) -> None:
        if self._event is not None:
            self.device.activate()
            event, self._event = self._event, None
            check(driver.cuEventDestroy(event), "cuEventDestroy")


def _handle(stream: Stream | int) -> int:
    return stream.handle if isinstance(stream, Stream) else int(stream)


def copy_htod_async(dst: int, src: int, nbytes: int, stream: Stream | int) -> None:
    check(driver.cuMemcpyHtoDAsync(dst, src, nbytes, _handle(stream)), "cuMemcpyHtoDAsync")


def copy_dtoh_async(dst: int, src: int, nbytes: int, stream: Stream | int) -> None:
    check(driver.cuMemcpyDtoHAsync(dst, src, nbytes, _handle(stream)), "cuMemcpyDtoHAsync")


def copy_dtod_async(dst: int, src: int, nbytes: int, stream: Stream | int) -> None:
    check(driver.cuMemcpyDtoDAsync(dst, src, nbytes, _handle(stream)), "cuMemcpyDtoDAsync")


def copy_2d_async(*, dst: int, dst_pitch: int, src: int, src_pitch: int, width_bytes: int, height: int,
                  stream: Stream | int, dst_host: bool = False, src_host: bool = False) -> None:
    """A pitched copy of ``height`` rows of ``width_bytes`` between device and/or host memory."""
    copy = driver.CUDA_MEMCPY2D()
    host, device = driver.CUmemorytype.CU_MEMORYTYPE_HOST, driver.CUmemorytype.CU_MEMORYTYPE_DEVICE
    copy.srcMemoryType = host if src_host else device
    copy.dstMemoryType = host if dst_host else device
    if src_host:
        copy.srcHost = src
    else:
        copy.srcDevice = src
    if dst_host:
        copy.dstHost = dst
    else:
        copy.dstDevice = dst
    copy.srcPitch, copy.dstPitch = src_pitch, dst_pitch
    copy.WidthInBytes, copy.Height = width_bytes, height
    check(driver.cuMemcpy2DAsync(copy, _handle(stream)), "cuMemcpy2DAsync")


@dataclass(frozen=True)
class DeviceTensor:
    """A dense C-order tensor in device memory: what a GPU pre-processor hands its engine."""

    ptr: int
    shape: tuple[int, ...]
    dtype: np.dtype
    device: int = 0
    capacity_bytes: int | None = None  # what the allocation at ptr holds, when more than the tensor

    def holds(self, nbytes: int) -> bool:
        """Whether ``nbytes`` from ptr lie inside the allocation (an engine padding the batch)."""
        return nbytes <= max(self.nbytes, self.capacity_bytes or 0)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape)) * np.dtype(self.dtype).itemsize

    @property
    def __cuda_array_interface__(self) -> dict:
        return {"shape": tuple(self.shape), "typestr": np.dtype(self.dtype).str, "data": (self.ptr, False),
                "strides": None, "version": 3}


class Resources:
    """The buffers and streams of one owner, freed together, streams drained first, in reverse order."""

    def __init__(self, device: CudaDevice) -> None:
        self.device = device
        self._items: list = []

    def keep(self, item):
        self._items.append(item)
        return item

    def replace(self, old, new):
        """Swap a buffer for a larger one (after the owner's streams finished with the old)."""
        if old is not None:
            for item in self._items:
                if isinstance(item, Stream):
                    item.synchronize()
            old.free()
            self._items.remove(old)
        return self.keep(new)

    def free_all(self) -> None:
        items, self._items = self._items, []
        if not items:
            return
        self.device.activate()
        for item in items:
            if isinstance(item, Stream):
                item.synchronize()
        for item in reversed(items):
            if isinstance(item, Stream):
                item.destroy()
            elif isinstance(item, Event):
                item.destroy()
            else:
                item.free()


def upload_batch(batch: np.ndarray, dtype: np.dtype, host: PinnedBuffer, dest: DeviceBuffer, stream: Stream,
                 limit: str) -> DeviceTensor:
    """A host float32 [B, 3, H, W] batch copied (cast to ``dtype``) into ``dest`` through ``host``."""
    if batch.dtype != np.float32 or batch.ndim != 4 or batch.shape[1] != 3 or batch.shape[0] == 0:
        raise ValueError(f"batch must be float32 [B>0, 3, H, W], got {batch.dtype} {batch.shape}")
    data = batch if np.dtype(dtype) == np.float32 else batch.astype(dtype)
    if data.nbytes > min(dest.nbytes, host.nbytes):
        raise ValueError(f"batch {list(batch.shape)} is larger than {limit}")
    np.copyto(host.view(data.dtype, data.shape), data)
    copy_htod_async(dest.ptr, host.ptr, data.nbytes, stream)
    return DeviceTensor(dest.ptr, tuple(data.shape), data.dtype, dest.device.index, dest.nbytes)


class StreamPool:
    """Streams lent to short-lived users (one per decoder connection) and kept for the process.

    PyNvVideoCodec's decoder uses the stream it was created with until the decoder object is
    freed, which Python may do later than the connection's close; a stream destroyed under
    it crashed the driver once on the H200 (libcuda segfault, 16 streams reconnecting).  So
    streams go back to this pool instead, to be lent again: as many exist as connections ever
    ran at once.
    """

    def __init__(self, device: CudaDevice) -> None:
        import threading

        self.device = device
        self._free: list[Stream] = []
        self._lock = threading.Lock()

    def take(self) -> Stream:
        with self._lock:
            if self._free:
                return self._free.pop()
        return Stream(self.device)

    def give_back(self, stream: Stream) -> None:
        with self._lock:
            self._free.append(stream)


_stream_pools: dict[int, StreamPool] = {}


def stream_pool(device: CudaDevice) -> StreamPool:
    """The process's StreamPool for ``device``."""
    pool = _stream_pools.get(device.index)
    if pool is None:
        pool = _stream_pools.setdefault(device.index, StreamPool(device))
    return pool
