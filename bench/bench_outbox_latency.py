"""End-to-end latency the disk outbox adds at 4 cameras: the daemon with `mqtt.outbox: disk` and
with `memory`, in interleaved rounds, then the disk outbox's commit times alone.

Each round runs `jetsentry run` (4 live file cameras of the sample scene, fps_cap 5, the
default model, a real Mosquitto, the state directory on this machine's disk), waits
`--warmup` s, then stamps each message's arrival for `--window` s:

  end_to_end = arrival - capture_ts   (what a subscriber sees)
  publish    = arrival - processed_ts (message built -> outbox -> broker -> subscriber)

The disk rounds' extra over the memory rounds is what the outbox adds.  Then, to see where
the publish step's long waits come from, `DiskOutbox.commit()` alone is timed in the same
folder: 4 messages per commit (one batch of the 4 cameras) at the daemon's commit rate.

    python bench/bench_outbox_latency.py [--rounds 3] [--warmup 8] [--window 40] [--name NAME]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import DEFAULT_MODEL, SAMPLE_SCENE, CpuMonitor, bench_arguments, require_file, stats_ms, write_result
from daemon_run import Camera, DaemonRun, message_fields, parse_utc

CAMERAS = 4
FPS_CAP = 5
# 20 commits/s: the daemon's rate when each of the 4 cameras' 5 frames/s comes in a batch of its own.
COMMIT_INTERVAL_S = 0.05


def _round(outbox: str, model: Path, video: Path, warmup: float, window: float, state_dir: Path) -> dict:
    cameras = [Camera(f"cam{n + 1}", str(video), {"fps_cap": FPS_CAP}) for n in range(CAMERAS)]
    with CpuMonitor() as monitor, DaemonRun(cameras, model, mqtt={"outbox": outbox},
                                            sections={"state_dir": str(state_dir)}) as run:
        run.wait_for_messages(CAMERAS, timeout_s=120)
        time.sleep(warmup)
        first = run.subscriber.count()
        time.sleep(window)
        run.check_alive()
        messages = message_fields(run.subscriber.timed_messages(first))
        monitor.sample_own()
    end_to_end = [(arrived - parse_utc(m["capture_ts"])) * 1e3 for arrived, m in messages]
    publish = [(arrived - parse_utc(m["processed_ts"])) * 1e3 for arrived, m in messages]
    result = {"outbox": outbox, "messages": len(messages), "end_to_end_ms": stats_ms(end_to_end),
              "publish_ms": stats_ms(publish), "end_to_end": end_to_end, "publish": publish, "load": monitor.record}
    print(f"  {outbox}: {len(messages)} messages; end-to-end p50 {result['end_to_end_ms']['p50']:.1f} "
          f"p99 {result['end_to_end_ms']['p99']:.1f}; publish p50 {result['publish_ms']['p50']:.1f} "
          f"mean {result['publish_ms']['mean']:.1f} p99 {result['publish_ms']['p99']:.1f} ms; other processes "
          f"{monitor.record['foreign_cores']:.2f} cores", flush=True)
    return result


def _commit_times(folder: Path, commits: int, interval_s: float) -> dict:
    from jetsentry.publish import DiskOutbox, OutgoingMessage

    outbox = DiskOutbox(folder, max_bytes=1 << 30, max_messages=1_000_000)
    payload = b"x" * 900  # a detections message's size with a few detections
    times = []
    try:
        for n in range(commits):
            for camera in range(CAMERAS):
                outbox.put(OutgoingMessage(f"jetsentry/bench/cam{camera}/detections", payload, 1, False))
            started = time.perf_counter()
            outbox.commit()
            times.append((time.perf_counter() - started) * 1e3)
            for key, _message in outbox.pop_batch(64):
                outbox.ack(key)
            time.sleep(interval_s)
    finally:
        outbox.close()
    return stats_ms(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "outbox_latency_4cam", clip=False)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each outbox, interleaved")
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--window", type=float, default=40.0)
    parser.add_argument("--commits", type=int, default=1000, help="commits timed alone at the end")
    args = parser.parse_args()
    model = require_file(args.model or DEFAULT_MODEL, "model")
    video = require_file(SAMPLE_SCENE, "the sample scene")

    rounds = []
    with tempfile.TemporaryDirectory(prefix="jetsentry-outbox-latency-", dir=Path.home()) as tmp:
        for n in range(args.rounds):
            for outbox in ("disk", "memory") if n % 2 == 0 else ("memory", "disk"):
                rounds.append(_round(outbox, model, video, args.warmup, args.window, Path(tmp) / f"state{len(rounds)}"))
        commit_ms = _commit_times(Path(tmp) / "commit", args.commits, COMMIT_INTERVAL_S)
    pooled = {}
    for outbox in ("disk", "memory"):
        mine = [r for r in rounds if r["outbox"] == outbox]
        pooled[outbox] = {"end_to_end_ms": stats_ms(v for r in mine for v in r["end_to_end"]),
                          "publish_ms": stats_ms(v for r in mine for v in r["publish"]),
                          "messages": sum(r["messages"] for r in mine)}
    added = {q: round(pooled["disk"]["end_to_end_ms"][q] - pooled["memory"]["end_to_end_ms"][q], 1)
             for q in ("p50", "p99", "mean")}
    for r in rounds:
        del r["end_to_end"], r["publish"]
    result = {"cameras": CAMERAS, "fps_cap": FPS_CAP, "model": model.name, "pooled": pooled,
              "disk_minus_memory_end_to_end_ms": added, "commit_alone_ms": commit_ms, "rounds": rounds}
    for outbox, data in pooled.items():
        e2e, pub = data["end_to_end_ms"], data["publish_ms"]
        print(f"{outbox}: end-to-end p50 {e2e['p50']:.1f} p99 {e2e['p99']:.1f} ms; publish p50 {pub['p50']:.1f} "
              f"mean {pub['mean']:.1f} p99 {pub['p99']:.1f} max {pub['max']:.1f} ms ({data['messages']} messages)")
    print(f"disk - memory, end to end: p50 {added['p50']:+.1f} ms, p99 {added['p99']:+.1f} ms, mean {added['mean']:+.1f} ms")
    print(f"DiskOutbox.commit() alone, 4 messages: p50 {commit_ms['p50']:.2f} p99 {commit_ms['p99']:.2f} "
          f"max {commit_ms['max']:.2f} ms")
    write_result(args.name, result, load=None)


if __name__ == "__main__":
    main()
