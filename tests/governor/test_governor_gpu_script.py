"""bench/gpu/governor_gpu.py's CPU path (--providers cpu), so the GPU run is known to work before the lead runs it.

The CPU engine on the FP32 file stands in for the CUDA primary; its memory scenario injects
GpuMemoryError (a FAKE: a CPU engine has no device memory to cap).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_gpu_script_runs_every_scenario_on_the_cpu_without_losing_a_frame(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "bench" / "gpu" / "governor_gpu.py"), "--providers", "cpu",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads((tmp_path / "governor_cpu.json").read_text())
    scenarios = {s["scenario"]: s for s in result["scenarios"]}
    assert [e["type"] for e in scenarios["thermal"]["events"]] == ["fallback", "recovery"]
    assert [e["type"] for e in scenarios["cuda"]["events"]] == ["fallback", "recovery"]
    assert "cuda_launch" in scenarios["cuda"]["events"][0]["reason"]
    memory = scenarios["memory"]
    # While the injected fault lasts, a return prepared before the script lifted it fails its probe
    # too: one switch_failed or more in a row, each naming the memory error, then the recovery.
    kinds = [e["type"] for e in memory["events"]]
    assert kinds[0] == "fallback" and kinds[-1] == "recovery" and kinds[1:-1] and \
        set(kinds[1:-1]) == {"switch_failed"}, kinds
    assert all("GpuMemoryError" in e["reason"] for e in memory["events"] if e["type"] == "switch_failed")
    assert memory["as_expected"] is True
    assert memory["kept_fallback"] is True and memory["rebuilt_primary_caught_by"] == "its probe"
    assert "gpu_memory" in memory["events"][0]["reason"]
    for scenario in scenarios.values():
        assert scenario["lost"] == 0 and scenario["failed"] == 0 and scenario["served_by_fallback"] > 0
    # The 3 batches of 4 frames the injected CUDA error failed were inferred by the fallback.
    assert scenarios["cuda"]["retried"] == 12 and memory["retried"] > 0 and scenarios["thermal"]["retried"] == 0
    assert result["frames_lost"] == 0 and result["switches"] == 6
    assert result["temperatures_c"] == {"tj-thermal": 60.0}
