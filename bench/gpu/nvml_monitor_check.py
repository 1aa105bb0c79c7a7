"""The NVML health monitor on a real NVIDIA GPU: a few readings, idle and under load, beside NVML's raw values.

    python3 bench/gpu/nvml_monitor_check.py [--device 0] [--out DIR]

Writes DIR/nvml_monitor_check.json (DIR: --out, else $OUT, else .) and prints it.  Needs
nvidia-ml-py and daemon/ of this checkout, nothing else of jetsentry's dependencies; with
torch it also loads the GPU (matrix products for a few seconds) to see load and memory
move.  Exit status 0 when every reading came back without an error, 1 when NVML cannot
start (no NVIDIA driver) or a reading failed, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import types
from pathlib import Path

DAEMON = Path(__file__).resolve().parents[2] / "daemon"
READINGS = 3
READ_EVERY_S = 0.5
LOAD_S = 4.0


def import_monitors():
    """The monitors package without jetsentry.health's __init__, which imports the health
    message models (pydantic): the GPU machine's python has nvidia-ml-py but not pydantic."""
    sys.path.insert(0, str(DAEMON))
    try:
        import pydantic  # noqa: F401
    except ImportError:
        health = types.ModuleType("jetsentry.health")
        health.__path__ = [str(DAEMON / "jetsentry" / "health")]
        sys.modules["jetsentry.health"] = health
    from jetsentry.health.monitors import nvml

    return nvml


def reading_facts(reading) -> dict:
    return {
        "temperatures_c": dict(reading.temperatures_c),
        "gpu_load": reading.gpu_load,
        "gpu_memory_used_bytes": reading.gpu_memory_used_bytes,
        "gpu_memory_total_bytes": reading.gpu_memory_total_bytes,
        "throttle_reasons": list(reading.throttle_reasons),
        "gpu_lost": reading.gpu_lost,
        "skipped": dict(reading.skipped),
        "error": reading.error,
    }


def raw_facts(pynvml, index: int) -> dict:
    """NVML's own answers, read directly, to compare the monitor's readings with."""
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
    get_reasons = getattr(pynvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or \
        pynvml.nvmlDeviceGetCurrentClocksThrottleReasons
    return {
        "temperature_c": pynvml.nvmlDeviceGetTemperature(handle, pynvml.NVML_TEMPERATURE_GPU),
        "utilization_percent": pynvml.nvmlDeviceGetUtilizationRates(handle).gpu,
        "memory_used": memory.used,
        "memory_total": memory.total,
        "reasons_mask": hex(get_reasons(handle)),
    }


def sample(monitor, pynvml, index: int, label: str) -> list[dict]:
    samples = []
    for _ in range(READINGS):
        time.sleep(READ_EVERY_S)
        samples.append({"phase": label, "t": round(time.monotonic(), 3), "reading": reading_facts(monitor.read()),
                        "raw": raw_facts(pynvml, index)})
    return samples


def load_the_gpu(stop: threading.Event, facts: dict) -> None:
    try:
        import torch
    except ImportError:
        facts["load"] = "torch not installed: no load phase"
        return
    a = torch.randn(8192, 8192, device="cuda")
    b = torch.randn(8192, 8192, device="cuda")
    products = 0
    while not stop.is_set():
        (a @ b).sum().item()
        products += 1
    facts["load"] = f"{products} products of 8192x8192 fp32 matrices"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    args = parser.parse_args(argv)
    nvml = import_monitors()
    facts: dict = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "device_index": args.device}
    try:
        import pynvml
    except ImportError as exc:
        facts["error"] = f"nvidia-ml-py is not installed: {exc}"
        return finish(facts, args.out, 1)
    facts["nvidia_ml_py"] = _version("nvidia-ml-py")
    monitor = nvml.NvmlMonitor(args.device, nvml=pynvml)
    if not monitor.available:
        facts["error"] = monitor.init_error
        return finish(facts, args.out, 1)
    try:
        facts["device_name"] = monitor.device_name
        facts["driver"] = str(pynvml.nvmlSystemGetDriverVersion())
        facts["samples"] = sample(monitor, pynvml, args.device, "idle")
        stop = threading.Event()
        loader = threading.Thread(target=load_the_gpu, args=(stop, facts), daemon=True)
        loader.start()
        time.sleep(1.0)  # the load is running and NVML's utilisation window has seen it
        facts["samples"] += sample(monitor, pynvml, args.device, "loaded")
        time.sleep(max(0.0, LOAD_S - 1.0 - READINGS * READ_EVERY_S))
        stop.set()
        loader.join()
    finally:
        monitor.close()
    errors = [s["reading"]["error"] for s in facts["samples"] if s["reading"]["error"]]
    return finish(facts, args.out, 1 if errors else 0)


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "?"


def finish(facts: dict, out: Path, status: int) -> int:
    facts["status"] = status
    text = json.dumps(facts, indent=2)
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "nvml_monitor_check.json").write_text(text + "\n")
    if status:
        print(f"nvml_monitor_check: {facts.get('error') or 'a reading failed'}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
