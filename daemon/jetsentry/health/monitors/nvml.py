"""A desktop or data-centre NVIDIA GPU (and Jetson Thor), read through NVML.

Source: NVIDIA's NVML through nvidia-ml-py (module ``pynvml``), NVIDIA's own bindings:
``nvmlDeviceGetTemperature(handle, NVML_TEMPERATURE_GPU)`` (degrees C),
``nvmlDeviceGetUtilizationRates(handle).gpu`` (percent of the last sample period a kernel
ran), ``nvmlDeviceGetMemoryInfo(handle)`` (``used`` / ``total``, bytes) and the current
clocks event reasons (``nvmlDeviceGetCurrentClocksEventReasons``, called
...ThrottleReasons before NVML 12.5: a bit mask, decoded by THROTTLE_REASONS).

A field the device does not support (NVMLError_NotSupported) is skipped with its reason.
NVMLError_GpuIsLost from any call reads as GPU lost.  When NVML cannot start (no driver,
no device at the index) the monitor says why in each reading and tries again at most
every INIT_RETRY_S.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import ModuleType

from jetsentry.health.monitors.base import Reading
from jetsentry.optional import NVML, require

# NVML's clocks event (throttle) reason bits, nvml.h, and the names readings use.
THROTTLE_REASONS: dict[int, str] = {
    0x001: "gpu_idle",  # nothing runs: clocks drop to idle (not a problem)
    0x002: "applications_clocks",  # clocks held by the applications-clocks setting
    0x004: "power_cap",  # the software power cap (power limit)
    0x008: "hw_slowdown",  # hardware slowdown: too hot or a power brake (HW thermal or power)
    0x010: "sync_boost",  # held with other GPUs in a sync-boost group
    0x020: "sw_thermal",  # the driver's thermal slowdown (GPU or memory over its max temperature)
    0x040: "hw_thermal",  # hardware thermal slowdown
    0x080: "hw_power_brake",  # an external power brake (the power supply)
    0x100: "display_clocks",  # clocks held by the display clock setting
    0x200: "board_limit",
    0x400: "reliability",
}
# The reasons that mean the GPU is too hot or short of power (the rest are settings or idle).
HEAT_OR_POWER_REASONS = frozenset({"power_cap", "hw_slowdown", "sw_thermal", "hw_thermal", "hw_power_brake"})

INIT_RETRY_S = 10.0


def decode_throttle_reasons(mask: int) -> tuple[str, ...]:
    """The names of the bits set in `mask`, lowest bit first; an unknown bit as unknown_0x..."""
    names = []
    bit = 1
    while bit <= mask:
        if mask & bit:
            names.append(THROTTLE_REASONS.get(bit, f"unknown_0x{bit:x}"))
        bit <<= 1
    return tuple(names)


class NvmlMonitor:
    """Reads NVML device `device_index`; `nvml` is the pynvml module (tests pass a fake)."""

    name = "nvml"

    def __init__(self, device_index: int = 0, *, nvml: ModuleType | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if nvml is None:
            require("the NVML GPU monitor", NVML)
            import pynvml as nvml
        self._nvml = nvml
        self.device_index = device_index
        self._clock = clock
        self._handle = None
        self.device_name: str | None = None
        self.init_error: str | None = None
        self._last_init = -float("inf")
        self._init()

    @property
    def available(self) -> bool:
        return self._handle is not None

    def _init(self) -> None:
        nvml = self._nvml
        self._last_init = self._clock()
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            self.init_error = f"NVML cannot start (nvmlInit): {exc}"
            return
        try:
            handle = nvml.nvmlDeviceGetHandleByIndex(self.device_index)
            name = nvml.nvmlDeviceGetName(handle)
        except nvml.NVMLError as exc:
            count = _device_count(nvml)
            nvml.nvmlShutdown()
            self.init_error = (f"NVML has no device {self.device_index} "
                               f"(nvmlDeviceGetHandleByIndex: {exc}; {count} device(s))")
            return
        self._handle, self.init_error = handle, None
        self.device_name = name.decode() if isinstance(name, bytes) else str(name)

    def read(self) -> Reading:
        if self._handle is None:
            if self._clock() - self._last_init >= INIT_RETRY_S:
                self._init()
            if self._handle is None:
                return Reading(self.name, error=self.init_error)
        nvml, handle = self._nvml, self._handle
        values: dict[str, object] = {}
        skipped: dict[str, str] = {}
        errors: list[str] = []
        calls = {
            "temperature": lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU),
            "utilization": lambda: nvml.nvmlDeviceGetUtilizationRates(handle).gpu,
            "memory": lambda: nvml.nvmlDeviceGetMemoryInfo(handle),
            "throttle": lambda: _clocks_event_reasons(nvml, handle),
        }
        for field_name, call in calls.items():
            try:
                values[field_name] = call()
            except nvml.NVMLError_GpuIsLost as exc:
                return Reading(self.name, gpu_lost=True, error=f"NVML: {exc} (reading {field_name})")
            except nvml.NVMLError_NotSupported as exc:
                skipped[field_name] = f"not supported by {self.device_name}: {exc}"
            except nvml.NVMLError as exc:
                errors.append(f"{field_name}: {exc}")
        memory = values.get("memory")
        return Reading(
            self.name,
            temperatures_c={"gpu": float(values["temperature"])} if "temperature" in values else {},
            gpu_load=values["utilization"] / 100 if "utilization" in values else None,
            gpu_memory_used_bytes=int(memory.used) if memory is not None else None,
            gpu_memory_total_bytes=int(memory.total) if memory is not None else None,
            throttle_reasons=decode_throttle_reasons(int(values["throttle"])) if "throttle" in values else (),
            skipped=skipped,
            error=f"NVML device {self.device_index}: {'; '.join(errors)}" if errors else None,
        )

    def close(self) -> None:
        if self._handle is not None:
            self._handle = None
            try:
                self._nvml.nvmlShutdown()
            except self._nvml.NVMLError:
                pass


def _clocks_event_reasons(nvml: ModuleType, handle) -> int:
    get = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
    if get is None:  # nvidia-ml-py before 12.535
        get = nvml.nvmlDeviceGetCurrentClocksThrottleReasons
    return get(handle)


def _device_count(nvml: ModuleType) -> str:
    try:
        return str(nvml.nvmlDeviceGetCount())
    except nvml.NVMLError:
        return "an unknown number of"


def nvml_monitor_if_available(device_index: int) -> tuple[NvmlMonitor | None, str]:
    """For auto mode: the monitor when nvidia-ml-py imports and NVML finds the device, else
    None and why not."""
    try:
        monitor = NvmlMonitor(device_index)
    except ImportError as exc:
        return None, str(exc)
    if not monitor.available:
        reason = monitor.init_error or "unavailable"
        monitor.close()
        return None, reason
    return monitor, ""
