"""A FAKE pynvml (this machine has no NVIDIA GPU or driver).

It follows nvidia-ml-py's interface: the real module's constants and error types (an
error is raised as pynvml raises it, `NVMLError(code)`, which picks the subclass such as
NVMLError_GpuIsLost), and the device calls the NVML monitor makes, answering from state
the test sets.
"""

from __future__ import annotations

from types import SimpleNamespace

import pynvml


class FakeNvml:
    def __init__(self, *, devices: int = 1, name: str = "NVIDIA H200") -> None:
        self.devices = devices
        self.name = name
        self.temperature_c = 45
        self.utilization_percent = 30
        self.memory_used = 2 * 1024**3
        self.memory_total = 141 * 1024**3
        self.reasons = 0
        self.init_error: int | None = None  # an NVML_ERROR_* code nvmlInit raises
        self.failing: dict[str, int] = {}  # call name -> NVML_ERROR_* code it raises
        self.initialised = 0  # nvmlInit calls not yet shut down

    def __getattr__(self, name: str):
        return getattr(pynvml, name)  # constants and error classes, as the real module has them

    def _call(self, name: str) -> None:
        if self.initialised <= 0:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)
        if name in self.failing:
            raise pynvml.NVMLError(self.failing[name])

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise pynvml.NVMLError(self.init_error)
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self._call("nvmlShutdown")
        self.initialised -= 1

    def nvmlDeviceGetCount(self) -> int:
        self._call("nvmlDeviceGetCount")
        return self.devices

    def nvmlDeviceGetHandleByIndex(self, index: int):
        self._call("nvmlDeviceGetHandleByIndex")
        if not 0 <= index < self.devices:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return ("handle", index)

    def nvmlDeviceGetName(self, handle) -> str:
        self._call("nvmlDeviceGetName")
        return self.name

    def nvmlDeviceGetTemperature(self, handle, sensor: int) -> int:
        self._call("nvmlDeviceGetTemperature")
        if sensor != pynvml.NVML_TEMPERATURE_GPU:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        return self.temperature_c

    def nvmlDeviceGetUtilizationRates(self, handle):
        self._call("nvmlDeviceGetUtilizationRates")
        return SimpleNamespace(gpu=self.utilization_percent, memory=10)

    def nvmlDeviceGetMemoryInfo(self, handle):
        self._call("nvmlDeviceGetMemoryInfo")
        return SimpleNamespace(total=self.memory_total, used=self.memory_used,
                               free=self.memory_total - self.memory_used)

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle) -> int:
        self._call("nvmlDeviceGetCurrentClocksEventReasons")
        return self.reasons
