"""Daemon resident memory over a long run with reconnect churn: fitted slope and lasting steps.

`jetsentry run` with 4 cameras and the default model, publishing to a real Mosquitto:
two file cameras looping the 640x360 sample scene, one `test://` camera (640x360, 15
fps) and one RTSP camera (tests/support/rtsp_server.py, x264, 640x360, 15 fps) whose
server is killed with SIGKILL every `--cut-every` s and started again after `--outage` s,
so the daemon reconnects once a minute.  Every camera is capped at `--fps-cap` frames/s,
which keeps the daemon below one core.  VmRSS of the daemon is sampled
every `--interval` s.  After `--warmup-minutes`, the samples are fitted with a line
(slope in KiB/min; target < 20) and searched for lasting steps: a rise of more than
`--step-mib` above every earlier sample that RSS never comes back from (target: none).

    python bench/bench_soak.py [--minutes 60] [--warmup-minutes 5] [--interval 10] [--probe]

`--minutes 6 --warmup-minutes 1` is a smoke run.  `--probe` runs the daemon under
bench/memprobe.py (Python heap, glibc heap and object counts per type, written beside the
result as NAME.probe.jsonl); `--tracemalloc N` adds the Python heap by source line (slow).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from pathlib import Path

import numpy as np

from common import (BENCH_DIR, DEFAULT_MODEL, PYTHON, RESULTS_DIR, SAMPLE_SCENE, CpuMonitor, process_cpu_s,
                    require_file, write_result)
from daemon_run import Camera, DaemonRun, daemon_config
from tests.support.rtsp_server import RtspServerProcess

TARGET_SLOPE_KIB_PER_MIN = 20.0
WIDTH, HEIGHT, FPS = 640, 360, 15
_HEALTH = re.compile(r" health (\{.*\})$")


def status_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "Threads"):
            fields[key] = int(value.split()[0])
    return fields


def from_log(log_path: Path) -> tuple[dict | None, int]:
    """The daemon's last health line (logged every 30 s at INFO) and how often the RTSP
    camera went to STREAMING."""
    health, streaming = None, 0
    for line in log_path.read_text(errors="replace").splitlines():
        match = _HEALTH.search(line)
        if match:
            health = match.group(1)
        streaming += "camera rtsp: " in line and line.rstrip().endswith("-> STREAMING")
    try:
        return json.loads(health) if health else None, streaming
    except ValueError:
        return None, streaming


def lasting_steps(times_s: list[float], rss_kib: list[int], step_kib: float) -> list[dict]:
    """Rises to a new high, more than `step_kib` above every earlier sample, that RSS never
    comes back from: every later sample stays above the earlier high plus half the step.
    (A dip while the RTSP camera is away and the way back up are no step.)"""
    steps = []
    for i in range(1, len(rss_kib)):
        high = max(rss_kib[:i])
        if rss_kib[i] > high + step_kib and min(rss_kib[i:]) > high + step_kib / 2:
            steps.append({"t_min": round(times_s[i] / 60, 2), "rise_mib": round((rss_kib[i] - high) / 1024, 2)})
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default="soak_4cam_rtsp_cut", help="result file bench/results/NAME.json")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="ONNX model (default: the default model)")
    parser.add_argument("--clip", type=Path, default=SAMPLE_SCENE, help="video of the two file cameras")
    parser.add_argument("--minutes", type=float, default=60.0, help="measured minutes (after the warm-up)")
    parser.add_argument("--warmup-minutes", type=float, default=5.0)
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument("--fps-cap", type=float, default=3.0, help="cameras[].fps_cap of every camera")
    parser.add_argument("--cut-every", type=float, default=60.0, help="seconds between two RTSP server kills")
    parser.add_argument("--outage", type=float, default=10.0, help="seconds the RTSP server stays down")
    parser.add_argument("--step-mib", type=float, default=2.0, help="a rise between two samples counted as a step")
    parser.add_argument("--probe", action="store_true", help="run the daemon under bench/memprobe.py")
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="FRAMES", help="with --probe: trace the Python heap")
    args = parser.parse_args()
    model = require_file(args.model, "model")
    clip = require_file(args.clip, "video")

    server = RtspServerProcess("--pattern", "ball", "--width", str(WIDTH), "--height", str(HEIGHT), "--fps", str(FPS))
    cap = {"fps_cap": args.fps_cap}
    cameras = [
        Camera("file1", str(clip), {**cap, "on_eos": "loop"}),
        Camera("file2", str(clip), {**cap, "on_eos": "loop"}),
        Camera("test", f"test://ball?width={WIDTH}&height={HEIGHT}&fps={FPS}", cap),
        Camera("rtsp", server.url, cap),
    ]
    launcher = None
    probe_path = RESULTS_DIR / f"{args.name}.probe.jsonl"
    if args.probe:
        probe_path.unlink(missing_ok=True)
        launcher = [PYTHON, str(BENCH_DIR / "memprobe.py"), str(probe_path), "--interval", "60",
                    "--baseline", str(args.warmup_minutes * 30), "--tracemalloc", str(args.tracemalloc), "--"]
    warmup_s = args.warmup_minutes * 60
    total_s = warmup_s + args.minutes * 60
    samples = []  # [s since start, VmRSS, RssAnon, threads, daemon CPU-s, messages, 1-min load average]
    cuts = 0
    server.start()
    try:
        with CpuMonitor() as monitor, DaemonRun(cameras, model, launcher=launcher) as run:
            run.wait_for_messages(1, timeout_s=120)
            started = time.monotonic()
            next_sample, next_cut, restore_at = started, started + args.cut_every, None
            while (now := time.monotonic()) - started <= total_s:
                run.check_alive()
                if restore_at is None and now >= next_cut:
                    server.kill()
                    cuts += 1
                    restore_at, next_cut = now + args.outage, next_cut + args.cut_every
                elif restore_at is not None and now >= restore_at:
                    server.start()
                    restore_at = None
                if now >= next_sample:
                    status = status_kib(run.pid)
                    samples.append([round(now - started, 1), status["VmRSS"], status["RssAnon"], status["Threads"],
                                    round(process_cpu_s(run.pid), 1), run.subscriber.count(), os.getloadavg()[0]])
                    if len(samples) % max(1, round(60 / args.interval)) == 0:
                        print(f"  {samples[-1][0] / 60:5.1f} min: RSS {status['VmRSS'] / 1024:.1f} MiB, "
                              f"{status['Threads']} threads, {samples[-1][5]} messages, {cuts} cuts", flush=True)
                    next_sample += args.interval
                time.sleep(0.2)
            health, rtsp_streaming = from_log(run.log_path)
            monitor.sample_own()
    finally:
        server.stop()

    measured = [s for s in samples if s[0] >= warmup_s]
    minutes = np.array([s[0] / 60 for s in measured])
    rss = [s[1] for s in measured]
    slope = float(np.polyfit(minutes, rss, 1)[0])
    steps = lasting_steps([s[0] for s in measured], rss, args.step_mib * 1024)
    elapsed = samples[-1][0] - samples[0][0]
    cores = (samples[-1][4] - samples[0][4]) / elapsed
    fps = (samples[-1][5] - samples[0][5]) / elapsed
    met = slope < TARGET_SLOPE_KIB_PER_MIN and not steps
    reconnects = (health or {}).get("cameras", {}).get("rtsp", {}).get("reconnects")
    print(f"bench_soak: {args.minutes:g} min after {args.warmup_minutes:g} warm-up, {cuts} RTSP cuts "
          f"({reconnects} reconnect attempts, streaming again {rtsp_streaming - 1} times): "
          f"RSS {min(rss) / 1024:.1f}-{max(rss) / 1024:.1f} MiB, slope {slope:+.1f} KiB/min, {len(steps)} lasting "
          f"steps (target < {TARGET_SLOPE_KIB_PER_MIN:g} KiB/min and none: {'met' if met else 'NOT met'}); daemon {cores:.2f} cores, {fps:.1f} frames/s", flush=True)
    write_result(args.name, {
        "model": model.name,
        "daemon_config": daemon_config(cameras, model),
        "probe": probe_path.name if args.probe else None,
        "warmup_minutes": args.warmup_minutes,
        "minutes": args.minutes,
        "interval_s": args.interval,
        "cut_every_s": args.cut_every,
        "outage_s": args.outage,
        "rtsp_cuts": cuts,
        "rtsp_reconnects": reconnects,  # attempts, failed ones during an outage included
        "rtsp_streaming_starts": rtsp_streaming,
        "final_health": health,
        "daemon_cores": round(cores, 3),
        "load1": {"min": min(s[6] for s in samples), "median": float(np.median([s[6] for s in samples])),
                  "max": max(s[6] for s in samples)},  # the machine's, while the soak ran
        "fps": round(fps, 2),
        "slope_kib_per_min": round(slope, 2),
        "target_slope_kib_per_min": TARGET_SLOPE_KIB_PER_MIN,
        "step_mib": args.step_mib,
        "lasting_steps": steps,
        "target_met": met,
        "rss_mib": {"first": round(rss[0] / 1024, 1), "last": round(rss[-1] / 1024, 1),
                    "min": round(min(rss) / 1024, 1), "max": round(max(rss) / 1024, 1)},
        "samples": {"columns": ["t_s", "rss_kib", "anon_kib", "threads", "cpu_s", "messages", "load1"], "rows": samples},
    }, load=monitor.record, judge_load=False)  # CPU load slows the daemon but does not change its memory


if __name__ == "__main__":
    main()
