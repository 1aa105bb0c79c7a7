"""Checked CUDA calls and the GPU memory cap, without a GPU (the device is a fake where one is needed)."""

from __future__ import annotations

import pytest

cuda = pytest.importorskip("jetsentry.gpu.cuda", reason="needs cuda-python")

from jetsentry.gpu.cuda import MIB, check, check_memory_cap, driver  # noqa: E402
from jetsentry.infer.errors import CudaError, GpuError, GpuMemoryError  # noqa: E402


def test_check_returns_the_values():
    ok = driver.CUresult.CUDA_SUCCESS
    assert check((ok,), "cuCtxSynchronize") is None
    assert check((ok, 7), "cuDeviceGetCount") == 7
    assert check((ok, 1, 2), "cuMemGetInfo") == (1, 2)


def test_a_failed_status_names_the_call_and_the_status():
    with pytest.raises(CudaError, match=r"cuStreamSynchronize failed: CUDA_ERROR_LAUNCH_FAILED") as caught:
        check((driver.CUresult.CUDA_ERROR_LAUNCH_FAILED,), "cuStreamSynchronize")
    assert caught.value.call == "cuStreamSynchronize" and caught.value.status == "CUDA_ERROR_LAUNCH_FAILED"
    assert isinstance(caught.value, GpuError)


def test_out_of_memory_is_a_memory_error():
    with pytest.raises(GpuMemoryError, match=r"cuMemAlloc\(64 bytes\) failed: CUDA_ERROR_OUT_OF_MEMORY"):
        check((driver.CUresult.CUDA_ERROR_OUT_OF_MEMORY, 0), "cuMemAlloc(64 bytes)")


class _FakeDevice:
    """A FAKE GPU: only what check_memory_cap reads."""

    def __init__(self, free_mib, total_mib):
        self.index = 0
        self.info = type("Info", (), {"name": "Fake GPU"})()
        self._memory = (free_mib * MIB, total_mib * MIB)

    def memory_info(self):
        return self._memory


@pytest.mark.parametrize("cap, need, free, total, message", [
    (512, 600, 4000, 8000, "needs 600 MiB, more than its cap of 512 MiB"),
    (9000, 100, 4000, 8000, "gpu_mem_limit_mib 9000 is more than GPU 0 \\(Fake GPU\\) has \\(8000 MiB\\)"),
    (5000, 100, 4000, 8000, "gpu_mem_limit_mib 5000 is more than GPU 0 \\(Fake GPU\\) has free now \\(4000 of 8000 MiB\\)"),
    (None, 4500, 4000, 8000, "needs 4500 MiB, more than GPU 0 \\(Fake GPU\\) has free now"),
])
def test_memory_cap_errors(cap, need, free, total, message):
    with pytest.raises(GpuMemoryError, match=message):
        check_memory_cap(_FakeDevice(free, total), None if cap is None else cap * MIB, need * MIB, "the engine")


@pytest.mark.parametrize("cap", [None, 2000])
def test_memory_cap_met(cap):
    check_memory_cap(_FakeDevice(4000, 8000), None if cap is None else cap * MIB, 1000 * MIB, "the engine")


def test_no_driver_is_a_backend_error():
    from jetsentry.infer.errors import BackendUnavailableError

    try:
        cuda.get_device(0)
    except BackendUnavailableError as exc:
        assert "NVIDIA driver" in str(exc) or "GPU" in str(exc)
    else:
        pytest.skip("this machine has a GPU")
