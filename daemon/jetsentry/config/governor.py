"""The health governor's settings: monitors, thermal and error thresholds, fallback backend, load shedding.

The defaults suit a Jetson Orin: its tj-thermal zone (the hottest point of the SoC) starts
software clock throttling near 99 °C and shuts down at 104.5 °C (NVIDIA's Orin thermal
design guide), so the governor moves off the GPU at 90 °C and comes back once the SoC has
held 80 °C for a minute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from jetsentry.config.backends import BackendConfig, OnnxRuntimeCpuBackend


class _GovernorModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)


class GovernorMonitorsConfig(_GovernorModel):
    sysfs_root: Path = Field(
        Path("/"), description="Root under which sys/devices/... is read (thermal zones, the Jetson GPU load)."
    )
    thermal_zone_types: list[str] = Field(
        default_factory=list,
        description="Thermal zone types to read, e.g. [tj-thermal] (JetPack 6) or [Tj-therm] (JetPack 5); "
        "empty: every zone (the hottest one counts).",
    )
    jetson_gpu_load: bool | None = Field(
        None, description="Read the Jetson GPU load node; null: when the node exists under sysfs_root."
    )
    tegrastats: str | None = Field(
        None, description="Path of the tegrastats binary to run for temperatures and GPU load; null: not run."
    )
    tegrastats_interval_ms: int = Field(1000, ge=10, le=60_000, description="tegrastats --interval, milliseconds.")
    nvml: bool | None = Field(
        None, description="Read a desktop GPU through NVML (nvidia-ml-py); null: when NVML loads and finds the device."
    )
    nvml_device_index: int = Field(0, ge=0, le=63, description="The NVML device index to read.")

    def settings(self):
        """The monitors' own settings object (jetsentry.health.monitors.MonitorSettings)."""
        from jetsentry.health.monitors import MonitorSettings

        return MonitorSettings(
            sysfs_root=self.sysfs_root,
            thermal_zone_types=tuple(self.thermal_zone_types),
            jetson_gpu_load=self.jetson_gpu_load,
            tegrastats=self.tegrastats,
            tegrastats_interval_ms=self.tegrastats_interval_ms,
            nvml=self.nvml,
            nvml_device_index=self.nvml_device_index,
        )


class FallbackConfig(_GovernorModel):
    backend: BackendConfig = Field(
        default_factory=lambda: OnnxRuntimeCpuBackend(type="onnxruntime-cpu"),
        description="The backend that serves while the primary (model.backend) cannot: a type or a mapping, "
        "as model.backend.",
    )
    precision: Literal["auto", "fp32", "fp16", "int8"] = Field(
        "auto",
        description="Which model file the fallback runs; auto: the fallback backend's best among model.path "
        "and model.variants (the CPU takes the INT8 variant when there is one).",
    )


class SheddingConfig(_GovernorModel):
    enabled: bool = Field(True, description="Lower camera frame rates when inference falls behind.")
    latency_enter_s: float = Field(
        1.0, gt=0, le=600, description="Capture-to-publish latency above which a shedding step is taken."
    )
    latency_leave_s: float = Field(
        0.5, gt=0, le=600, description="Latency below which (with the backlog below backlog_leave) a step is undone."
    )
    backlog_enter: int = Field(
        8, ge=1, le=100_000,
        description="Frames that waited or were dropped because inference was busy, in the monitor's window, "
        "above which a shedding step is taken.",
    )
    backlog_leave: int = Field(2, ge=0, le=100_000, description="Backlog below which a step may be undone.")
    step: float = Field(
        0.5, gt=0, lt=1, description="Each step multiplies one camera's frame rate by this (undoing divides)."
    )
    min_fps: float = Field(1.0, gt=0, le=240, description="No camera is shed below this many frames per second.")
    step_interval_s: float = Field(
        5.0, gt=0, le=3600,
        description="Least time between two steps, so each step's effect is seen before the next.",
    )

    @model_validator(mode="after")
    def _levels(self) -> "SheddingConfig":
        if self.latency_leave_s >= self.latency_enter_s:
            raise ValueError(f"latency_leave_s ({self.latency_leave_s:g}) must be below latency_enter_s "
                             f"({self.latency_enter_s:g})")
        if self.backlog_leave >= self.backlog_enter:
            raise ValueError(f"backlog_leave ({self.backlog_leave}) must be below backlog_enter ({self.backlog_enter})")
        return self


class GovernorConfig(_GovernorModel):
    enabled: bool | Literal["auto"] = Field(
        "auto",
        description="Run the health governor. auto: when model.backend is a GPU backend (with the CPU backend as "
        "primary there is nothing to fall back to); true also with a CPU primary.",
    )
    interval_s: float = Field(1.0, gt=0, le=600, description="How often the monitors are read and the policy runs.")
    monitors: GovernorMonitorsConfig = Field(
        default_factory=GovernorMonitorsConfig, description="Where temperatures and GPU load are read."
    )
    t_hot_c: float = Field(
        90.0, gt=-50, le=200, description="Hottest reading above which inference moves to the fallback backend."
    )
    t_cool_c: float = Field(
        80.0, gt=-50, le=200,
        description="Hottest reading that must hold for cooldown_s before the primary backend is tried again; "
        "below t_hot_c (the gap is the hysteresis).",
    )
    cooldown_s: float = Field(
        60.0, ge=0, le=86_400,
        description="How long the cause of a fallback must stay away (t_cool_c held, GPU present, no engine "
        "errors) before returning.",
    )
    engine_errors: int = Field(
        3, ge=1, le=10_000,
        description="Engine errors (CUDA, GPU memory, TensorRT/ONNX Runtime execution errors) within "
        "error_window_s that move inference to the fallback backend.",
    )
    error_window_s: float = Field(60.0, gt=0, le=86_400, description="The window engine_errors are counted in.")
    engine_timeout_s: float | None = Field(
        5.0, gt=0, le=3600,
        description="Deadline of each primary engine call (inference of one batch): a call that gives no "
        "result within it counts as the GPU lost (EngineTimeoutError): the fallback serves at once, the "
        "batch's frames with it, and the stuck engine is abandoned. null: no deadline.",
    )
    prepare_lead_s: float = Field(
        5.0, ge=0, le=86_400,
        description="How long before the end of cooldown_s the primary is rebuilt (or, after a thermal "
        "fallback, warmed again), so traffic returns as the cooldown ends; at most cooldown_s.",
    )
    fallback: FallbackConfig = Field(default_factory=FallbackConfig, description="The backend used while falling back.")
    probe_before_return: bool = Field(
        True,
        description="Run a probe batch of recent frames through the rebuilt primary backend before traffic "
        "returns to it; a failing probe keeps the fallback and restarts the cooldown.",
    )
    shedding: SheddingConfig = Field(default_factory=SheddingConfig, description="Load shedding.")

    @model_validator(mode="after")
    def _hysteresis(self) -> "GovernorConfig":
        if self.t_cool_c >= self.t_hot_c:
            raise ValueError(f"t_cool_c ({self.t_cool_c:g}) must be below t_hot_c ({self.t_hot_c:g})")
        return self
