"""Governor switch times and frames lost: threshold crossing -> first frame from the other backend, both ways.

The real daemon (`jetsentry run`) on the bundled model and sample scene, handed over frame by
frame (realtime: false, so every decoded frame reaches inference and a lost one shows as a gap
in seq), with a real Mosquitto.  The governor reads a FAKE Jetson thermal zone the benchmark
writes (tj-thermal under a temporary sysfs root).  The primary is the CPU backend on the FP32
file, standing in for a GPU backend (no GPU here); the fallback is the CPU backend on the INT8
variant.  Each message's model.sha256 says which one inferred it.  Per cycle:

  to_fallback = processed_ts of the first message from the INT8 file - the time the hot
                temperature was written
  to_primary  = processed_ts of the first message from the FP32 file again - (the time the cool
                temperature was written + cooldown_s): the return may start only then
  lost        = frames missing from seq across the cycle (the camera is lossless, no shedding)

The daemon's log gives each build-and-warm-up time (the new backend is warm before traffic
moves), so the rest is reading the monitor (interval_s) and waiting for the batch boundary.

    python bench/bench_governor_switch.py [--cycles 5] [--cooldown 2] [--interval 0.25] [--name NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path

from common import DEFAULT_MODEL, SAMPLE_SCENE, CpuMonitor, bench_arguments, stats_ms, wait_for_quiet, write_result
from daemon_run import DEVICE_ID, Camera, DaemonRun, TimedSubscriber, parse_utc

from jetsentry.infer.model_info import ModelInfo

INT8_MODEL = DEFAULT_MODEL.with_name("jetsentry-default.int8.onnx")
HOT_C, COOL_C = 95.0, 60.0
TARGET_S = 2.0
_BUILT = re.compile(r"(fallback|primary) built and warmed in ([0-9.]+) s")


def write_temperature(zone: Path, celsius: float) -> float:
    """Write tj-thermal's temp whole; the wall time it was written."""
    partial = zone / "temp.partial"
    partial.write_text(f"{round(celsius * 1000)}\n")
    os.replace(partial, zone / "temp")
    return time.time()


def first_from(run: DaemonRun, sha: str, after_ts: float, timeout_s: float) -> float:
    """processed_ts of the first detections message from the file `sha` processed after `after_ts`."""
    deadline = time.monotonic() + timeout_s
    seen = 0
    while time.monotonic() < deadline:
        run.check_alive()
        messages = run.subscriber.timed_messages(seen)
        for _, payload in messages:
            message = json.loads(payload)
            processed = parse_utc(message["processed_ts"])
            if message["model"]["sha256"] == sha and processed >= after_ts:
                return processed
        seen += len(messages)
        time.sleep(0.01)
    raise RuntimeError(f"no message from {sha[:12]} within {timeout_s} s:\n{run.log_tail()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "governor_switch", model=False, clip=False)
    parser.add_argument("--cycles", type=int, default=5, help="hot/cool cycles (two switches each)")
    parser.add_argument("--cooldown", type=float, default=2.0, help="governor.cooldown_s")
    parser.add_argument("--interval", type=float, default=0.25, help="governor.interval_s")
    args = parser.parse_args()
    sha = {"fp32": ModelInfo.from_onnx(DEFAULT_MODEL).sha256, "int8": ModelInfo.from_onnx(INT8_MODEL).sha256}
    with tempfile.TemporaryDirectory(prefix="jetsentry-sysfs-") as root:
        zone = Path(root) / "sys/devices/virtual/thermal/thermal_zone0"
        zone.mkdir(parents=True)
        (zone / "type").write_text("tj-thermal\n")
        write_temperature(zone, COOL_C)
        governor = {"enabled": True, "interval_s": args.interval, "cooldown_s": args.cooldown,
                    "monitors": {"sysfs_root": root, "jetson_gpu_load": False}, "shedding": {"enabled": False}}
        camera = Camera("rec", str(SAMPLE_SCENE), {"realtime": False, "on_eos": "loop"})
        if not args.no_wait:
            wait_for_quiet()
        cycles = []
        with CpuMonitor() as monitor, DaemonRun(
                [camera], DEFAULT_MODEL,
                sections={"model": {"precision": "fp32", "variants": {"int8": str(INT8_MODEL)}},
                          "governor": governor}) as run:
            events = TimedSubscriber(run.broker, f"jetsentry/{DEVICE_ID}/events").start()
            run.wait_for_messages(5, timeout_s=120)
            for _ in range(args.cycles):
                hot_at = write_temperature(zone, HOT_C)
                on_fallback = first_from(run, sha["int8"], hot_at, 60)
                time.sleep(0.5)  # a few frames on the fallback
                cool_at = write_temperature(zone, COOL_C)
                back = first_from(run, sha["fp32"], cool_at + args.cooldown, 60)
                cycles.append({"to_fallback_s": round(on_fallback - hot_at, 3),
                               "to_primary_s": round(back - cool_at - args.cooldown, 3)})
                time.sleep(0.5)
            monitor.sample_own()
            run.stop_daemon()
            messages = [json.loads(p) for _, p in run.subscriber.timed_messages()]
            event_types = [json.loads(p)["type"] for _, p in events.timed_messages()]
            events.stop()
            log = run.log_path.read_text(errors="replace")
    load = monitor.record
    seqs = sorted({m["seq"] for m in messages})
    lost = (seqs[-1] - seqs[0] + 1) - len(seqs)
    builds = [(kind, float(s)) for kind, s in _BUILT.findall(log)]
    result = {
        "cycles": cycles,
        "to_fallback": stats_ms(c["to_fallback_s"] * 1e3 for c in cycles),
        "to_primary": stats_ms(c["to_primary_s"] * 1e3 for c in cycles),
        "build_and_warm_fallback": stats_ms(s * 1e3 for k, s in builds if k == "fallback"),
        "build_and_warm_primary": stats_ms(s * 1e3 for k, s in builds if k == "primary"),
        "switches": event_types.count("fallback") + event_types.count("recovery"),
        "frames_published": len(seqs),
        "frames_lost": lost,
        "frames_lost_per_switch": round(lost / max(1, 2 * len(cycles)), 3),
        "settings": {"interval_s": args.interval, "cooldown_s": args.cooldown, "camera": "sample-scene realtime: false"},
        "target_s": TARGET_S,
    }
    worst = max(max(c["to_fallback_s"], c["to_primary_s"]) for c in cycles)
    print(f"to fallback: p50 {result['to_fallback'].get('p50', 0):.0f} ms, max {result['to_fallback']['max']:.0f} ms; "
          f"back: p50 {result['to_primary'].get('p50', 0):.0f} ms, max {result['to_primary']['max']:.0f} ms; "
          f"target {TARGET_S:g} s each way: {'met' if worst <= TARGET_S else 'MISSED'}")
    print(f"frames lost: {lost} in {result['switches']} switches ({len(seqs)} published)")
    write_result(args.name, result, load=load)


if __name__ == "__main__":
    main()
