"""The disk outbox: its cost per message, replay rate after an outage, live publish capacity.

1. cost: what one message costs with the disk outbox beside the memory one, interleaved:
   on the frame path (MqttPublisher.publish(): an in-memory append, target: no more than the
   memory outbox) and in all (put, group commit, pop, ack, the deletes' commit, on one
   thread) at commit groups of 1, 4, 16 and 64 messages (target <= 0.2 ms amortised).
2. replay: N messages waiting in outbox.db, the broker comes back: N over the time from
   the connection to the last PUBACK (target >= 5,000 messages/s to a local broker).
3. live: a thread publishes N messages as fast as it can with the broker up: N over the
   time from the first publish() to the last PUBACK (target >= 2,000 messages/s).
Replay and live run disk and memory outboxes in turn; the ratio is of the pooled rates.
Payloads are real detections messages of 12 detections (1,657 bytes).

    python bench/bench_outbox.py [--rounds 3] [--messages 20000] [--name NAME]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from common import CpuMonitor, bench_arguments, wait_for_quiet, write_result

COST_TARGET_MS = 0.2
REPLAY_TARGET = 5_000.0
LIVE_TARGET = 2_000.0
GROUPS = (1, 4, 16, 64)


def _payload() -> bytes:
    import numpy as np

    from jetsentry.detections import Detections
    from tests.publish.messages import sample_message

    n = 12
    dets = Detections(boxes=np.tile(np.array([[100.25, 200.5, 300.75, 400.5]], np.float32), (n, 1)),
                      scores=np.full(n, 0.9123, np.float32), class_ids=np.arange(n) % 3,
                      track_ids=np.arange(n, dtype=np.int64))
    return sample_message(detections=dets)


def _fsync_ms(folder: Path, count: int = 200) -> float:
    """Median time of one 4 KiB write + fsync in folder: the floor of one commit."""
    path = folder / "fsync-probe"
    times = []
    with open(path, "wb") as handle:
        for _ in range(count):
            start = time.perf_counter()
            handle.write(b"\0" * 4096)
            handle.flush()
            os.fsync(handle.fileno())
            times.append(time.perf_counter() - start)
    path.unlink()
    return statistics.median(times) * 1e3


def _cycle_ms(box, payload: bytes, group: int, messages: int) -> float:
    """Milliseconds per message of the whole outbox cycle, committing `group` messages at a time."""
    from jetsentry.publish import OutgoingMessage

    message = OutgoingMessage("jetsentry/bench/cam1/detections", payload, 1)
    start = time.perf_counter()
    for _ in range(messages // group):
        for _ in range(group):
            box.put(message)
        box.commit()
        for key, _ in box.pop_batch(group):
            box.ack(key)
    box.close()  # the deletes' last commit
    return (time.perf_counter() - start) / (messages // group * group) * 1e3


def cost(payload: bytes, rounds: int) -> dict:
    from jetsentry.config.models import MqttConfig
    from jetsentry.publish import DiskOutbox, MemoryOutbox, MqttPublisher

    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result["fsync_ms"] = round(_fsync_ms(folder), 3)
        for group in GROUPS:
            disk, memory = [], []
            for n in range(rounds):
                disk.append(_cycle_ms(DiskOutbox(folder / f"g{group}-{n}", max_bytes=1 << 40, max_messages=10**8),
                                      payload, group, max(256, 64 * group)))
                memory.append(_cycle_ms(MemoryOutbox(10**8), payload, group, 20_000))
            result[f"group_{group}"] = {"disk_ms_per_message": round(statistics.median(disk), 4),
                                        "memory_ms_per_message": round(statistics.median(memory), 5)}
        # The frame path: publish() on an unstarted publisher (nothing drains it, nothing commits).
        calls = {"disk": [], "memory": []}
        for n in range(rounds * 3):
            for kind in ("disk", "memory"):
                outbox = (DiskOutbox(folder / f"p{n}", max_bytes=1 << 40, max_messages=10**8) if kind == "disk"
                          else MemoryOutbox(10**8))
                publisher = MqttPublisher(MqttConfig(), "bench", outbox=outbox)
                start = time.perf_counter()
                for _ in range(5_000):
                    publisher.publish("jetsentry/bench/cam1/detections", payload)
                calls[kind].append((time.perf_counter() - start) / 5_000 * 1e6)
                outbox.close()
        result["publish_call_us"] = {kind: round(statistics.median(v), 2) for kind, v in calls.items()}
    return result


def _drain(publisher, count: int, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while publisher.sent < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {publisher.sent} of {count} messages acknowledged within {timeout} s")
        time.sleep(0.0005)


def replay_once(kind: str, broker, payload: bytes, count: int, folder: Path) -> dict:
    from jetsentry.config.models import MqttConfig
    from jetsentry.publish import DiskOutbox, MemoryOutbox, MqttPublisher, OutgoingMessage

    message = OutgoingMessage("jetsentry/bench/cam1/detections", payload, 1)
    if kind == "disk":
        filled = DiskOutbox(folder, max_bytes=1 << 40, max_messages=10**8)
        for _ in range(count):
            filled.put(message)
        filled.close()  # what an outage left behind
        outbox = DiskOutbox(folder, max_bytes=1 << 40, max_messages=10**8)
    else:
        outbox = MemoryOutbox(10**8)
        for _ in range(count):
            outbox.put(message)
    publisher = MqttPublisher(MqttConfig(host=broker.host, port=broker.port), "bench", outbox=outbox)
    publisher.start()
    while not publisher.connected:
        time.sleep(0.0005)
    start = time.perf_counter()
    _drain(publisher, count)
    seconds = time.perf_counter() - start
    publisher.stop()
    return {"messages": count, "seconds": seconds}


def live_once(kind: str, broker, payload: bytes, count: int, folder: Path) -> dict:
    from jetsentry.config.models import MqttConfig
    from jetsentry.publish import DiskOutbox, MemoryOutbox, MqttPublisher

    outbox = (DiskOutbox(folder, max_bytes=1 << 40, max_messages=10**8) if kind == "disk" else MemoryOutbox(10**8))
    publisher = MqttPublisher(MqttConfig(host=broker.host, port=broker.port), "bench", outbox=outbox)
    publisher.start()
    while not publisher.connected:
        time.sleep(0.0005)
    start = time.perf_counter()
    for _ in range(count):
        publisher.publish("jetsentry/bench/cam1/detections", payload)
    _drain(publisher, count)
    seconds = time.perf_counter() - start
    publisher.stop()
    return {"messages": count, "seconds": seconds}


def interleaved(run, broker, payload: bytes, count: int, rounds: int, label: str) -> dict:
    runs = {"disk": [], "memory": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(rounds):
            for kind in ("disk", "memory"):
                with CpuMonitor() as monitor:
                    one = run(kind, broker, payload, count, Path(tmp) / f"{label}-{n}")
                one = {**one, "rate": round(one["messages"] / one["seconds"], 1), "load": monitor.record}
                print(f"  {label} {kind}: {one['rate']:.0f} messages/s; other processes "
                      f"{monitor.record['foreign_cores']:.2f} cores", flush=True)
                runs[kind].append(one)
    pooled = {kind: sum(r["messages"] for r in rs) / sum(r["seconds"] for r in rs) for kind, rs in runs.items()}
    return {"disk_rate": round(pooled["disk"], 1), "memory_rate": round(pooled["memory"], 1),
            "disk_over_memory": round(pooled["disk"] / pooled["memory"], 3), "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "outbox", model=False, clip=False)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--messages", type=int, default=20_000, help="messages per replay and live run")
    args = parser.parse_args()

    from tests.support.broker import Broker

    payload = _payload()
    if not args.no_wait:
        wait_for_quiet()
    with tempfile.TemporaryDirectory() as broker_dir:
        broker = Broker(Path(broker_dir)).start()
        try:
            with CpuMonitor() as monitor:
                costs = cost(payload, args.rounds)
                replay = interleaved(replay_once, broker, payload, args.messages, args.rounds, "replay")
                live = interleaved(live_once, broker, payload, args.messages, args.rounds, "live")
        finally:
            broker.stop()
    amortised = {g: costs[f"group_{g}"]["disk_ms_per_message"] for g in GROUPS}
    result = {"payload_bytes": len(payload), "messages": args.messages, "rounds": args.rounds, "cost": costs,
              "replay": replay, "live": live,
              "targets": {"cost_ms_at_group_16": COST_TARGET_MS, "replay_rate": REPLAY_TARGET,
                          "live_rate": LIVE_TARGET},
              "met": {"cost": amortised[16] <= COST_TARGET_MS, "replay": replay["disk_rate"] >= REPLAY_TARGET,
                      "live": live["disk_rate"] >= LIVE_TARGET}}
    print(f"fsync of 4 KiB: {costs['fsync_ms']:.3f} ms; publish() {costs['publish_call_us']['disk']:.1f} us (disk) "
          f"vs {costs['publish_call_us']['memory']:.1f} us (memory)", flush=True)
    for g in GROUPS:
        c = costs[f"group_{g}"]
        print(f"commit groups of {g:2d}: {c['disk_ms_per_message']:.4f} ms per message (memory outbox "
              f"{c['memory_ms_per_message']:.5f} ms)", flush=True)
    print(f"replay: {replay['disk_rate']:.0f} messages/s (memory outbox {replay['memory_rate']:.0f}; target >= "
          f"{REPLAY_TARGET:.0f}); live: {live['disk_rate']:.0f} messages/s (memory {live['memory_rate']:.0f}; "
          f"target >= {LIVE_TARGET:.0f}); other processes {monitor.record['foreign_cores']:.2f} cores", flush=True)
    write_result(args.name, result, load=monitor.record)


if __name__ == "__main__":
    main()
