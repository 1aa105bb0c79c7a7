"""One line of tegrastats output, parsed.

The fields, as NVIDIA's Jetson Linux / L4T developer guides document them (appendix
"tegrastats Utility"), and as the utility prints them on Orin (JetPack 5, 6) and Thor
(JetPack 7):

    RAM X/Y (lfb NxZ)     RAM in use / total, MB
    SWAP X/Y (cached Z)   swap in use / total, MB
    CPU [X%@Z,Y%@Z,...]   per-core load and frequency (MHz), "off" for a core powered down;
                          or CPU [X%,Y%,...]@Z
    GR3D_FREQ X%@Y        the GPU's (GR3D engine's) load; Y its frequency, or [Y,Y,...]
                          one per GPC (Orin on JetPack 7, Thor); Thor prints
                          "GR3D_FREQ @[Y,Y,Y]" with no load when idle
    name@TC               a temperature in degrees C (cpu@45.5C, tj@47.5C, gpu@...; the
                          older releases capitalise: CPU@, GPU@, Tboard@); JetPack 7 adds
                          the maximum seen: cpu@52.9C/61.7C
    RAIL XmW/YmW          a power rail: current / average power in mW (JetPack 7 adds the
                          maximum: X/Y/Z); Orin: VDD_GPU_SOC, VDD_CPU_CV, VIN_SYS_5V0,
                          Orin Nano/NX: VDD_IN, VDD_CPU_GPU_CV, VDD_SOC; Thor: VDD_GPU,
                          VDD_CPU_SOC_MSS, VIN_SYS_5V0, VIN

A line may start with a "MM-DD-YYYY HH:MM:SS " timestamp and carries engines this parser
does not need (EMC_FREQ, NVENC, NVDEC, VIC, APE ...): they are ignored, as is any field a
later release adds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_EMPTY: Mapping = MappingProxyType({})

# A sensor that is off reads -256 C (the BPMP's offline value; TX2's BCPU@-256C).
OFFLINE_C = -256.0
# Constant values rather than temperatures: the PMIC's thermal-alert threshold on TX2/Xavier.
NOT_TEMPERATURES = ("PMIC",)

_RAM = re.compile(r"\bRAM (\d+)/(\d+)([kMG])B")
_SWAP = re.compile(r"\bSWAP (\d+)/(\d+)([kMG])B")
_CPU = re.compile(r"\bCPU \[([^\]]*)\](?:@(\d+))?")
_GR3D = re.compile(r"\bGR3D_FREQ (?:(\d+)%)?(?:@(\[[\d,]*\]|\d+))?")
_TEMPERATURE = re.compile(r"(?<![\w@%])([A-Za-z][\w]*)@(-?\d+(?:\.\d+)?)C(?:/(-?\d+(?:\.\d+)?)C)?(?=\s|$)")
_RAIL = re.compile(r"(?<!\S)([A-Z][A-Z0-9_]*) (-?\d+)(?:mW)?/(-?\d+)(?:mW)?(?:/(-?\d+)(?:mW)?)?(?=\s|$)")
_UNIT_MB = {"k": 1 / 1024, "M": 1.0, "G": 1024.0}
_NOT_RAILS = frozenset({"RAM", "SWAP", "IRAM"})


@dataclass(frozen=True)
class TegrastatsLine:
    """What one line says; a field the line does not carry is None (or empty)."""

    ram_used_mb: float | None = None
    ram_total_mb: float | None = None
    swap_used_mb: float | None = None
    swap_total_mb: float | None = None
    cpu_loads: tuple[float | None, ...] = ()  # per core, 0..1; None: the core is off
    gpu_load: float | None = None  # 0..1
    gpu_freq_mhz: tuple[int, ...] = ()  # one per GPC where the line gives them
    temperatures_c: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    rails_mw: Mapping[str, tuple[int, int]] = field(default_factory=lambda: _EMPTY)  # current, average
    skipped: Mapping[str, str] = field(default_factory=lambda: _EMPTY)  # sensor -> why it is not a reading


class TegrastatsParseError(ValueError):
    """The line is not tegrastats output (it carries no RAM field)."""


def parse_tegrastats_line(line: str) -> TegrastatsLine:
    """Parse one line; TegrastatsParseError when it is not a tegrastats statistics line."""
    ram = _RAM.search(line)
    if ram is None:
        raise TegrastatsParseError(f"not a tegrastats line (no 'RAM X/YMB' field): {line.strip()[:120]!r}")
    swap = _SWAP.search(line)
    temperatures, skipped = _temperatures(line)
    gpu_load, gpu_freq = _gr3d(line)
    return TegrastatsLine(
        ram_used_mb=_mb(ram.group(1), ram.group(3)),
        ram_total_mb=_mb(ram.group(2), ram.group(3)),
        swap_used_mb=_mb(swap.group(1), swap.group(3)) if swap else None,
        swap_total_mb=_mb(swap.group(2), swap.group(3)) if swap else None,
        cpu_loads=_cpu_loads(line),
        gpu_load=gpu_load,
        gpu_freq_mhz=gpu_freq,
        temperatures_c=temperatures,
        rails_mw={m.group(1): (int(m.group(2)), int(m.group(3)))
                  for m in _RAIL.finditer(line) if m.group(1) not in _NOT_RAILS},
        skipped=skipped,
    )


def _mb(value: str, unit: str) -> float:
    return int(value) * _UNIT_MB[unit]


def _cpu_loads(line: str) -> tuple[float | None, ...]:
    match = _CPU.search(line)
    if match is None:
        return ()
    loads: list[float | None] = []
    for core in match.group(1).split(","):
        core = core.strip()
        percent = re.match(r"(\d+)%", core)
        loads.append(int(percent.group(1)) / 100 if percent else None)  # "off"
    return tuple(loads)


def _gr3d(line: str) -> tuple[float | None, tuple[int, ...]]:
    match = _GR3D.search(line)
    if match is None:
        return None, ()
    load = int(match.group(1)) / 100 if match.group(1) is not None else None
    freq = match.group(2) or ""
    return load, tuple(int(f) for f in re.findall(r"\d+", freq))


def _temperatures(line: str) -> tuple[dict[str, float], dict[str, str]]:
    temperatures: dict[str, float] = {}
    skipped: dict[str, str] = {}
    for match in _TEMPERATURE.finditer(line):
        name, value = match.group(1), float(match.group(2))
        if name.upper().startswith(NOT_TEMPERATURES):
            skipped[name] = f"{name}@{match.group(2)}C is a fixed threshold, not a temperature"
        elif value <= OFFLINE_C:
            skipped[name] = f"{name}@{match.group(2)}C is the sensor-offline value"
        else:
            temperatures[name] = value
    return temperatures, skipped
