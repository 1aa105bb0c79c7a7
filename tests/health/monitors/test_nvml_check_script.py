"""bench/gpu/nvml_monitor_check.py on this machine, which has nvidia-ml-py but no NVIDIA driver."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pynvml")

REPO = Path(__file__).resolve().parents[3]


def test_without_a_driver_it_says_so_and_fails(tmp_path):
    # Run as the lent machine runs it: no jetsentry on the path beyond daemon/, and without
    # pydantic (which the lent machine's python lacks).
    done = subprocess.run(
        [sys.executable, "tests/support/without_modules.py", "pydantic", "bench.gpu.nvml_monitor_check",
         "--out", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1, done.stderr
    facts = json.loads((tmp_path / "nvml_monitor_check.json").read_text())
    assert facts["status"] == 1
    assert facts["error"].startswith("NVML cannot start (nvmlInit):")
    assert "NVML cannot start" in done.stderr
    assert "Traceback" not in done.stderr
