"""The tegrastats line parser, on recorded output from Orin (JetPack 5, 6, 7) and Thor."""

from __future__ import annotations

import pytest

from jetsentry.health.monitors.tegrastats_line import TegrastatsParseError, parse_tegrastats_line
from tests.health.monitors import tegrastats_lines as lines


def test_the_guides_field_examples():
    parsed = parse_tegrastats_line(lines.L4T_GUIDE_FIELDS)
    assert (parsed.ram_used_mb, parsed.ram_total_mb) == (220, 38955)
    assert (parsed.swap_used_mb, parsed.swap_total_mb) == (0, 1978)
    assert parsed.cpu_loads == (0.01, 0.05, 0.0, 0.0)
    assert parsed.gpu_load is None and parsed.temperatures_c == {} and parsed.rails_mw == {}


def test_orin_nano_jetpack6():
    parsed = parse_tegrastats_line(lines.ORIN_NANO_JP6)
    assert (parsed.ram_used_mb, parsed.ram_total_mb, parsed.swap_total_mb) == (2639, 7620, 3810)
    assert parsed.cpu_loads == (0.01, 0.04, 0.08, 0.04, 0.05, 0.04)
    assert parsed.gpu_load == 0.0 and parsed.gpu_freq_mhz == ()
    assert parsed.temperatures_c == {"cpu": 44.156, "soc2": 43.781, "soc0": 44.687, "gpu": 45.968,
                                     "tj": 45.968, "soc1": 45.312}
    assert parsed.rails_mw == {"VDD_IN": (5263, 5263), "VDD_CPU_GPU_CV": (717, 717), "VDD_SOC": (1794, 1794)}


def test_agx_orin():
    parsed = parse_tegrastats_line(lines.AGX_ORIN)
    assert len(parsed.cpu_loads) == 12
    assert parsed.temperatures_c["tj"] == 48.156 and "gpu" not in parsed.temperatures_c
    assert parsed.rails_mw == {"VDD_GPU_SOC": (3193, 3193), "VDD_CPU_CV": (399, 399), "VIN_SYS_5V0": (4306, 4306)}


def test_agx_orin_jetpack7_gpc_frequencies_and_maxima():
    parsed = parse_tegrastats_line(lines.AGX_ORIN_JP7)
    assert parsed.gpu_load == 0.12 and parsed.gpu_freq_mhz == (1300, 1300)
    # The current temperature, not the maximum after the slash.
    assert parsed.temperatures_c == {"cpu": 52.968, "soc2": 48.406, "soc0": 49.531, "gpu": 47.625}
    assert parsed.rails_mw["VDD_GPU_SOC"] == (5139, 5139)
    assert "APE" not in parsed.rails_mw and "EMC_FREQ" not in parsed.temperatures_c


def test_thor_loaded():
    parsed = parse_tegrastats_line(lines.THOR_LOADED)
    assert (parsed.ram_used_mb, parsed.ram_total_mb) == (8353, 125749)
    assert parsed.cpu_loads == (0.9, 0.75, None, 0.07)  # the third core is off
    assert parsed.gpu_load == 0.87 and parsed.gpu_freq_mhz == (1574, 1574, 1574)
    assert parsed.temperatures_c == {"cpu": 58.25, "tj": 66.625, "gpu": 56.937, "soc012": 55.375, "soc345": 55.812}
    assert parsed.rails_mw == {"VDD_GPU": (37939, 8660), "VDD_CPU_SOC_MSS": (30059, 12281),
                               "VIN_SYS_5V0": (15486, 7424), "VIN": (124486, 36487)}


def test_thor_idle_gives_no_gpu_load_rather_than_a_guess():
    parsed = parse_tegrastats_line(lines.THOR_IDLE)
    assert parsed.cpu_loads == (0.0, 0.05, None)
    assert parsed.gpu_load is None and parsed.gpu_freq_mhz == (1574, 1574, 1574)
    assert parsed.temperatures_c == {"cpu": 49.75, "tj": 51.218, "gpu": 51.218}


def test_thor_jetpack70_negative_rail_and_no_gr3d():
    parsed = parse_tegrastats_line(lines.THOR_JP70)
    assert parsed.gpu_load is None
    assert parsed.rails_mw["VDD_GPU"] == (-392, -392)
    assert parsed.rails_mw["VIN"] == (15004, 15096)


def test_offline_sensor_and_pmic_threshold_are_skipped_with_reasons():
    # Older releases' capitalised names with an offline sensor and the PMIC's fixed value
    # (a line made for this test in that format).
    parsed = parse_tegrastats_line("RAM 1000/7860MB (lfb 1x4MB) BCPU@-256C MCPU@-256C GPU@41C PMIC@100C Tboard@33C")
    assert parsed.temperatures_c == {"GPU": 41.0, "Tboard": 33.0}
    assert set(parsed.skipped) == {"BCPU", "MCPU", "PMIC"}
    assert "offline" in parsed.skipped["BCPU"] and "threshold" in parsed.skipped["PMIC"]


@pytest.mark.parametrize("line", ["", "tegrastats: command not found", "Error: run as root\n"])
def test_a_line_that_is_not_statistics(line):
    with pytest.raises(TegrastatsParseError, match="not a tegrastats line"):
        parse_tegrastats_line(line)


@pytest.mark.parametrize("line", lines.ALL)
def test_every_recorded_line_has_ram_and_temperatures_or_rails(line):
    parsed = parse_tegrastats_line(line)
    assert parsed.ram_total_mb and parsed.ram_used_mb is not None
    assert parsed.rails_mw
    assert all(-40 < t < 120 for t in parsed.temperatures_c.values())
