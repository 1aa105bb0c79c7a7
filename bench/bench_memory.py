"""Resident memory of the daemon over a long 4-camera run: minute 1 against minute 10 (growth must be <= 2 %).

`jetsentry run` with 4 cameras looping the 1080p clip, the COCO model and a real
Mosquitto.  VmRSS of the daemon process (/proc/PID/status) is sampled every
`--interval` s.  The first `--warmup-minutes` (ONNX Runtime's arena, GStreamer buffer
pools, trackers filling) are recorded but not judged; then `--minutes` are measured,
and the median RSS of their first minute is compared with that of their last.

    python bench/bench_memory.py [--minutes 10] [--warmup-minutes 1] [--interval 5] [--name NAME]

The full run takes warmup + minutes (11 minutes by default); `--minutes 2 --warmup-minutes 0.5`
is a smoke run.  Run it alone: it keeps both cores busy.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from common import CpuMonitor, bench_arguments, chosen_clip, chosen_model, write_result
from daemon_run import Camera, DaemonRun

TARGET_GROWTH = 0.02


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def rss_breakdown_mib(pid: int) -> dict[str, float]:
    """Anonymous (heaps, arenas, frame buffers) against file-backed (libraries, model mapping) resident memory."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            fields[key] = int(rest.split()[0])
    return {key: round(fields[key] / 1024, 1) for key in ("Rss", "Anonymous", "Shared_Clean", "Private_Clean")
            if key in fields}


def minute_median(samples: list[tuple[float, int]], start_s: float, end_s: float) -> float:
    values = [rss for t, rss in samples if start_s <= t < end_s]
    if not values:
        raise RuntimeError(f"no RSS samples between {start_s:.0f} s and {end_s:.0f} s")
    return float(np.median(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "memory_coco_4cam", wait=False)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=10.0, help="measured minutes (after the warm-up)")
    parser.add_argument("--warmup-minutes", type=float, default=1.0)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between RSS samples")
    args = parser.parse_args()
    if args.minutes < 2:
        parser.error("--minutes must be >= 2 (a first and a last minute are compared)")

    model = chosen_model(args)
    clip = chosen_clip(args)
    cameras = [Camera(f"cam{i + 1}", str(clip), {"on_eos": "loop"}) for i in range(args.cameras)]
    warmup_s, total_s = args.warmup_minutes * 60, (args.warmup_minutes + args.minutes) * 60

    samples: list[tuple[float, int]] = []  # (seconds since the daemon started, VmRSS KiB)
    counts: list[tuple[float, int]] = []  # (seconds, messages received so far)
    with CpuMonitor() as monitor, DaemonRun(cameras, model, log_level="WARNING") as run:
        started = time.monotonic()
        next_sample = started
        while True:
            now = time.monotonic()
            if now - started > total_s:
                break
            run.check_alive()
            samples.append((now - started, status_kib(run.pid, "VmRSS")))
            counts.append((now - started, run.subscriber.count()))
            if len(samples) % max(1, int(60 / args.interval)) == 0:
                print(f"  {samples[-1][0] / 60:5.1f} min: RSS {samples[-1][1] / 1024:.1f} MiB, "
                      f"{counts[-1][1]} messages", flush=True)
            next_sample += args.interval
            time.sleep(max(0.0, next_sample - time.monotonic()))
        peak_kib = status_kib(run.pid, "VmHWM")
        breakdown = rss_breakdown_mib(run.pid)
        monitor.sample_own()
        command = " ".join(run.command)

    first = minute_median(samples, warmup_s, warmup_s + 60)
    last = minute_median(samples, total_s - 60, total_s + 1)
    growth = (last - first) / first
    measured = [(t, rss) for t, rss in samples if t >= warmup_s]
    slope_kib_per_min = float(np.polyfit([t / 60 for t, _ in measured], [rss for _, rss in measured], 1)[0])
    messages = [c for t, c in counts if t >= warmup_s]
    fps = (messages[-1] - messages[0]) / max(1e-9, counts[-1][0] - warmup_s)
    met = growth <= TARGET_GROWTH
    print(f"bench_memory {args.cameras} cameras, {args.minutes:g} measured minutes after {args.warmup_minutes:g} "
          f"warm-up: RSS minute 1 {first / 1024:.1f} MiB -> minute {args.minutes:g} {last / 1024:.1f} MiB = "
          f"{growth * 100:+.2f} % (target <= {TARGET_GROWTH * 100:.0f} %: {'met' if met else 'NOT met'}); "
          f"slope {slope_kib_per_min:+.0f} KiB/min; "
          f"peak {peak_kib / 1024:.1f} MiB; {fps:.2f} frames/s", flush=True)
    write_result(args.name, {
        "model": model.name,
        "clip": clip.name,
        "cameras": args.cameras,
        "daemon_command": command,
        "warmup_minutes": args.warmup_minutes,
        "minutes": args.minutes,
        "interval_s": args.interval,
        "rss_first_minute_mib": round(first / 1024, 2),
        "rss_last_minute_mib": round(last / 1024, 2),
        "growth": round(growth, 5),
        "target_growth": TARGET_GROWTH,
        "target_met": met,
        "slope_kib_per_min": round(slope_kib_per_min, 1),
        "peak_rss_mib": round(peak_kib / 1024, 2),
        "rss_at_end_mib": breakdown,
        "fps": round(fps, 2),
        "samples": [[round(t, 1), rss] for t, rss in samples],
    }, load=monitor.record)


if __name__ == "__main__":
    main()
