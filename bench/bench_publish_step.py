"""The publish step alone, and where its time goes: MqttPublisher with the disk outbox and with
the memory one, in interleaved rounds, at the rate of 4 cameras (a batch of 4 messages every
`--interval` s), to a real local Mosquitto and a subscriber in this process.

Per message (one monotonic clock, this process):
  publish   = subscriber's arrival - the publish() call (what the daemon's `publish` adds after
              the message is built)
  queued    = paho's publish() call on the network thread - the publish() call
  commit    = duration of each DiskOutbox.commit() on the network thread (disk rounds)
The parts say whether the long waits are the commit's fsync (disk only) or the network
thread waiting to run (both outboxes alike).

    python bench/bench_publish_step.py [--rounds 3] [--seconds 30] [--interval 0.05] [--name NAME]
"""

from __future__ import annotations

import argparse
import struct
import tempfile
import threading
import time
from pathlib import Path

from common import CpuMonitor, bench_arguments, stats_ms, write_result
from tests.support.broker import Broker, Subscriber

CAMERAS = 4
PAYLOAD_BYTES = 900  # a detections message with a few detections


class _Timed(Subscriber):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.delays: list[float] = []

    def _on_message(self, _client, _userdata, message) -> None:
        sent = struct.unpack_from("d", message.payload)[0]
        self.delays.append((time.monotonic() - sent) * 1e3)


def _round(kind: str, broker: Broker, folder: Path, seconds: float, interval: float) -> dict:
    from jetsentry.config.models import MqttConfig
    from jetsentry.publish import DiskOutbox, MemoryOutbox, MqttPublisher
    from jetsentry.publish.mqtt import link as link_module

    commits: list[float] = []
    queued: list[float] = []
    if kind == "disk":
        class TimedOutbox(DiskOutbox):  # the bench's wrapper: times each commit
            def commit(self) -> int:
                started = time.perf_counter()
                done = super().commit()
                if done:
                    commits.append((time.perf_counter() - started) * 1e3)
                return done

        outbox = TimedOutbox(folder, max_bytes=1 << 30, max_messages=1_000_000)
    else:
        outbox = MemoryOutbox(1_000_000)
    cfg = MqttConfig(host=broker.host, port=broker.port)
    publisher = MqttPublisher(cfg, "bench", outbox=outbox)
    original_new_client = link_module.new_client

    def timed_client(*args):  # records when paho's publish() runs for each of our messages
        client = original_new_client(*args)
        paho_publish = client.publish

        def publish(topic, payload=None, qos=0, retain=False, properties=None):
            if topic.endswith("/detections"):
                queued.append((time.monotonic() - struct.unpack_from("d", payload)[0]) * 1e3)
            return paho_publish(topic, payload, qos, retain, properties)

        client.publish = publish
        return client

    import jetsentry.publish.mqtt.publisher as publisher_module
    publisher_module.new_client = timed_client
    subscriber = _Timed(broker, "jetsentry/bench/+/detections").start()
    try:
        publisher.start()
        deadline = time.monotonic() + 10
        while not publisher.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        topics = [f"jetsentry/bench/cam{n}/detections" for n in range(CAMERAS)]
        padding = b"x" * (PAYLOAD_BYTES - 8)
        sent = 0
        with CpuMonitor() as monitor:
            end = time.monotonic() + seconds
            next_batch = time.monotonic()
            while time.monotonic() < end:
                for topic in topics:
                    publisher.publish(topic, struct.pack("d", time.monotonic()) + padding)
                    sent += 1
                next_batch += interval
                time.sleep(max(0.0, next_batch - time.monotonic()))
            deadline = time.monotonic() + 10
            while len(subscriber.delays) < sent and time.monotonic() < deadline:
                time.sleep(0.01)
            monitor.sample_own()
    finally:
        publisher.stop(timeout=5)
        subscriber.stop()
        publisher_module.new_client = original_new_client
    result = {"outbox": kind, "messages": sent, "received": len(subscriber.delays),
              "publish_ms": stats_ms(subscriber.delays), "queued_ms": stats_ms(queued),
              "commit_ms": stats_ms(commits), "load": monitor.record,
              "_publish": subscriber.delays, "_queued": queued, "_commits": commits}
    print(f"  {kind}: publish p50 {result['publish_ms']['p50']:.2f} mean {result['publish_ms']['mean']:.2f} "
          f"p99 {result['publish_ms']['p99']:.2f} max {result['publish_ms']['max']:.2f} ms; to paho p50 "
          f"{result['queued_ms']['p50']:.2f} p99 {result['queued_ms']['p99']:.2f}; commits "
          f"{result['commit_ms'].get('p50', 0):.2f}/{result['commit_ms'].get('p99', 0):.2f}/"
          f"{result['commit_ms'].get('max', 0):.2f} ms p50/p99/max; other processes "
          f"{monitor.record['foreign_cores']:.2f} cores", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "publish_step_4cam", model=False, clip=False)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between batches of 4 messages")
    args = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="jetsentry-publish-step-", dir=Path.home()) as tmp:
        broker = Broker(Path(tmp) / "broker").start()
        try:
            for n in range(args.rounds):
                for kind in ("disk", "memory") if n % 2 == 0 else ("memory", "disk"):
                    rounds.append(_round(kind, broker, Path(tmp) / f"state{len(rounds)}", args.seconds,
                                         args.interval))
        finally:
            broker.stop()
    pooled = {}
    for kind in ("disk", "memory"):
        mine = [r for r in rounds if r["outbox"] == kind]
        pooled[kind] = {name: stats_ms(v for r in mine for v in r[f"_{name}"]) for name in ("publish", "queued",
                                                                                          "commits")}
    for r in rounds:
        for name in ("_publish", "_queued", "_commits"):
            del r[name]
    for kind, data in pooled.items():
        print(f"{kind}: publish p50 {data['publish']['p50']:.2f} mean {data['publish']['mean']:.2f} p99 "
              f"{data['publish']['p99']:.2f} ms; handed to paho p50 {data['queued']['p50']:.2f} p99 "
              f"{data['queued']['p99']:.2f} ms" + (f"; commit p50 {data['commits']['p50']:.2f} p99 "
                                                  f"{data['commits']['p99']:.2f} max {data['commits']['max']:.2f} ms"
                                                  if data['commits']['n'] else ""))
    write_result(args.name, {"cameras": CAMERAS, "interval_s": args.interval, "pooled": pooled, "rounds": rounds},
                 load=None)


if __name__ == "__main__":
    main()
