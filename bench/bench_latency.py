"""Capture-to-publish latency (p50/p99) for one live 15 fps camera through the real daemon.

Camera: a real RTSP server (tests/support/rtsp_server.py, x264 zerolatency, 1920x1080,
15 fps; the default) or `test://ball?fps=15&width=1920&height=1080` (`--source test`).
The daemon (`jetsentry run`) publishes to a real Mosquitto; a subscriber on the same
host stamps each message's arrival.  Per message:

  end_to_end      = arrival wall time - capture_ts (same host clock; for RTSP the
                    sender's NTP clock from RTCP, which here is this host's clock)
  before_handover = processed_ts - capture_ts - latency_ms.total (network, jitter
                    buffer, decode, colour conversion, before the frame reaches the slot)
  in_daemon       = latency_ms.total (slot wait + batch + pre + infer + post + track)
  publish         = arrival - processed_ts (MQTT to the broker and on to the subscriber)

capture_ts and processed_ts carry milliseconds, so each derived value is good to ~1 ms.

    python bench/bench_latency.py [--source rtsp|test] [--warmup 10] [--window 60] [--name NAME]
"""

from __future__ import annotations

import argparse
import time

from common import CpuMonitor, bench_arguments, chosen_model, stats_ms, wait_for_quiet, write_result
from daemon_run import Camera, DaemonRun, daemon_config, message_fields, parse_utc

STAGES = ("decode_to_batch", "preprocess", "inference", "postprocess", "tracking", "total")
WIDTH, HEIGHT, FPS = 1920, 1080, 15


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, None, clip=False)  # default name: latency_<source>_15fps
    parser.add_argument("--source", choices=("rtsp", "test"), default="rtsp")
    parser.add_argument("--rtsp-latency-ms", type=int, help="cameras[].rtsp.latency_ms (config default: 200)")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds after the first message, not counted")
    parser.add_argument("--window", type=float, default=60.0, help="seconds of messages measured")
    args = parser.parse_args()

    model = chosen_model(args)
    server = None
    if args.source == "rtsp":
        from tests.support.rtsp_server import RtspServerProcess

        server = RtspServerProcess("--pattern", "ball", "--width", str(WIDTH), "--height", str(HEIGHT),
                                   "--fps", str(FPS))
        options = {"rtsp": {"latency_ms": args.rtsp_latency_ms}} if args.rtsp_latency_ms is not None else {}
    else:
        options = {}
    if not args.no_wait:
        wait_for_quiet()
    try:
        if server is not None:
            server.start()
            source = server.url
        else:
            source = f"test://ball?fps={FPS}&width={WIDTH}&height={HEIGHT}"
        with CpuMonitor() as monitor, DaemonRun([Camera("live", source, options)], model) as run:
            run.wait_for_messages(1, timeout_s=120)
            time.sleep(args.warmup)
            first = run.subscriber.count()
            started = time.monotonic()
            time.sleep(args.window)
            elapsed = time.monotonic() - started
            run.check_alive()
            messages = message_fields(run.subscriber.timed_messages(first))
            monitor.sample_own()
    finally:
        if server is not None:
            server.stop()

    end_to_end, before, publish = [], [], []
    for arrived, msg in messages:
        captured, processed = parse_utc(msg["capture_ts"]), parse_utc(msg["processed_ts"])
        end_to_end.append((arrived - captured) * 1e3)
        before.append((processed - captured) * 1e3 - msg["latency_ms"]["total"])
        publish.append((arrived - processed) * 1e3)
    seqs = [msg["seq"] for _, msg in messages]
    source_frames = (seqs[-1] - seqs[0] + 1) if seqs else 0
    result = {
        "model": model.name,
        "source": args.source,
        "camera": f"{WIDTH}x{HEIGHT} @ {FPS} fps" + (" (x264 zerolatency over RTSP/TCP)" if server else ""),
        "rtsp_latency_ms": args.rtsp_latency_ms if server else None,
        "daemon_config": daemon_config([Camera("live", source, options)], model),
        "window_s": round(elapsed, 2),
        "messages": len(messages),
        "processed_fps": round(len(messages) / elapsed, 2),
        "frames_skipped": source_frames - len(messages),
        "end_to_end_ms": stats_ms(end_to_end),
        "before_handover_ms": stats_ms(before),
        "publish_ms": stats_ms(publish),
        "latency_ms": {stage: stats_ms(msg["latency_ms"][stage] for _, msg in messages) for stage in STAGES},
    }
    e2e = result["end_to_end_ms"]
    print(f"bench_latency {args.source} {result['camera']}: {len(messages)} messages in {elapsed:.1f} s "
          f"({result['processed_fps']:.2f}/s, {result['frames_skipped']} camera frames skipped); capture-to-publish "
          f"p50 {e2e['p50']:.1f} ms, p99 {e2e['p99']:.1f} ms; other processes {monitor.record['foreign_cores']:.2f} cores",
          flush=True)
    for name in ("before_handover_ms", "publish_ms"):
        print(f"  {name}: p50 {result[name]['p50']:.1f}, p99 {result[name]['p99']:.1f}", flush=True)
    for stage in STAGES:
        data = result["latency_ms"][stage]
        print(f"  latency_ms.{stage}: p50 {data['p50']:.1f}, p99 {data['p99']:.1f}", flush=True)
    write_result(args.name or f"latency_{args.source}_15fps", result, load=monitor.record)


if __name__ == "__main__":
    main()
