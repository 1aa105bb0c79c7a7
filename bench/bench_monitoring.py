"""What the health monitors cost: CPU time of sampling every monitor available here at 1 Hz, as a share of one core (target <= 1 %).

The monitors read a sysfs tree written like a Jetson Orin's (JetPack 6): 10 thermal zones
and the GPU load node; tegrastats is the FAKE tegrastats of the tests printing recorded
Orin and Thor lines every second (its own process is not counted: the real tool's cost is
NVIDIA's; what is counted is this process reading and parsing its lines); the pipeline
monitor reads 4 cameras' slots and a latency record that gets 30 batches a second.  NVML is
added when it finds a GPU.  The MonitorThread samples them at `--interval-s`.

The cost is this process's CPU time (all threads: the sampler and the tegrastats reader)
over the wall time of monitoring rounds, alternating with idle rounds of the same process
(the reference: what the process costs doing nothing) in one run.  Also reported: the wall
time of one MonitorSet.read, and the frame path's cost of recording one batch.

    python bench/bench_monitoring.py [--rounds 3] [--round-s 60] [--idle-s 20] [--interval-s 1.0] [--name NAME] [--no-wait]
"""

from __future__ import annotations

import argparse
import stat
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import REPO, CpuMonitor, bench_arguments, stats_ms, wait_for_quiet, write_result

from jetsentry.capture import LatestFrameSlot
from jetsentry.health.monitors import MonitorSet, MonitorSettings, MonitorThread, PipelineMonitor, PublishLatency
from jetsentry.health.monitors import build_monitors
from tests.support.fake_jetson_sysfs import ORIN_JP6_ZONES, FakeJetsonSysfs

TARGET_PERCENT = 1.0
CAMERAS = 4
BATCHES_PER_S = 30
FAKE_TEGRASTATS = REPO / "tests" / "health" / "monitors" / "fake_tegrastats.py"


def jetson_tree(root: Path) -> FakeJetsonSysfs:
    tree = FakeJetsonSysfs(root)
    tree.add_zones((*ORIN_JP6_ZONES, ("tboard_tegra", 38500)))  # 10 zones, as an Orin with its board sensor
    tree.add_gpu(load_per_mille=420)
    return tree


def fake_tegrastats(root: Path) -> str:
    binary = root / "tegrastats"
    binary.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE_TEGRASTATS} "$@"\n')
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return str(binary)


def record_cost_us(latency: PublishLatency, records: int = 200_000) -> float:
    """The frame path's cost per published batch: PublishLatency.record, in a tight loop."""
    now = time.monotonic()
    started = time.perf_counter()
    for _ in range(records):
        latency.record(now, now - 0.05, 4)
    return (time.perf_counter() - started) / records * 1e6


def cpu_round(seconds: float, feed: PublishLatency | None) -> dict:
    """This process's CPU seconds over `seconds` of wall time; with `feed`, the frame path's
    records of a second's batches are written once a second (their cost is measured apart)."""
    with CpuMonitor() as load:
        wall0, cpu0 = time.monotonic(), time.process_time()
        end = wall0 + seconds
        while (now := time.monotonic()) < end:
            if feed is not None:
                for i in range(BATCHES_PER_S):
                    feed.record(now - i / BATCHES_PER_S, now - i / BATCHES_PER_S - 0.08, CAMERAS)
            time.sleep(min(1.0, end - now))
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    return {"cpu_s": round(cpu, 4), "wall_s": round(wall, 2), "percent_of_a_core": round(100 * cpu / wall, 4),
            "load": load.record}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--round-s", type=float, default=60.0)
    parser.add_argument("--idle-s", type=float, default=20.0)
    parser.add_argument("--interval-s", type=float, default=1.0)
    bench_arguments(parser, "monitoring", model=False, clip=False)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-monitoring-") as tmp:
        root = Path(tmp)
        jetson_tree(root)
        settings = MonitorSettings(sysfs_root=root, tegrastats=fake_tegrastats(root),
                                   tegrastats_interval_ms=round(args.interval_s * 1000))
        latency = PublishLatency()
        slots = {f"cam{i}": LatestFrameSlot() for i in range(CAMERAS)}
        with MonitorSet(build_monitors(settings)) as monitors:
            monitors.add(PipelineMonitor(slots, latency))
            names = [m.name for m in monitors.monitors]
            time.sleep(1.5)  # tegrastats' first line
            first = monitors.read()
            print(f"monitors: {', '.join(names)}; errors: {dict(first.errors) or 'none'}", flush=True)
            read_ms = []
            for _ in range(200):
                started = time.perf_counter()
                monitors.read()
                read_ms.append((time.perf_counter() - started) * 1e3)
            per_record_us = record_cost_us(PublishLatency())
            if not args.no_wait:
                wait_for_quiet(max_wait_s=30)
            monitoring, idle = [], []
            for _ in range(args.rounds):
                idle.append(cpu_round(args.idle_s, None))
                samples = []
                with MonitorThread(monitors, samples.append, interval_s=args.interval_s):
                    monitoring.append(cpu_round(args.round_s, latency))
                monitoring[-1]["samples"] = len(samples)
                monitoring[-1]["errors_in_last_sample"] = dict(samples[-1].errors) if samples else None
                print(f"  monitoring {monitoring[-1]['percent_of_a_core']:.3f} % of a core "
                      f"({len(samples)} samples); idle {idle[-1]['percent_of_a_core']:.3f} %", flush=True)
            idle.append(cpu_round(args.idle_s, None))

    def pooled(rounds: list[dict]) -> float:
        return 100 * sum(r["cpu_s"] for r in rounds) / sum(r["wall_s"] for r in rounds)

    percent, idle_percent = pooled(monitoring), pooled(idle)
    cost = percent - idle_percent
    met = cost <= TARGET_PERCENT
    print(f"monitoring at {1 / args.interval_s:g} Hz: {cost:.3f} % of one core above the idle process "
          f"({percent:.3f} % with it, idle {idle_percent:.3f} %); target <= {TARGET_PERCENT} %: "
          f"{'met' if met else 'NOT met'}", flush=True)
    read = stats_ms(read_ms)
    print(f"one MonitorSet.read: median {read['p50']:.3f} ms, p99 {read['p99']:.3f} ms; "
          f"PublishLatency.record: {per_record_us:.2f} us per batch", flush=True)
    write_result(args.name, {
        "monitors": names, "interval_s": args.interval_s, "thermal_zones": 10, "cameras": CAMERAS,
        "percent_of_a_core": round(cost, 4), "with_monitoring_percent": round(percent, 4),
        "idle_percent": round(idle_percent, 4), "target_percent": TARGET_PERCENT, "target_met": met,
        "read_ms": read, "record_us_per_batch": round(per_record_us, 3),
        "monitoring_rounds": monitoring, "idle_rounds": idle,
    }, judge_load=False)  # this process's own CPU time: other processes' load does not enter it
    return 0


if __name__ == "__main__":
    sys.exit(main())
