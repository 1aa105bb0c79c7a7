"""A broker outage of several minutes while 4 cameras run: every message_id produced meanwhile
arrives after the broker returns, in per-camera order.

A real Mosquitto with persistence holds a persistent subscriber's session across its stop
(SIGTERM saves it), so what the subscriber receives after the return is exactly what the
daemon delivered.  The daemon (`jetsentry run`, disk outbox) runs 4 file cameras of the
sample scene; the broker is stopped for `--outage` seconds.  Just before the broker comes
back, the detections the daemon holds durably in its outbox.db are read (the ground truth
of what was produced and kept during the outage); after the return the benchmark waits
until every one of them arrived and checks each camera's messages arrive in seq order.

    python bench/bench_outage.py [--outage 200] [--cameras 4] [--fps-cap 5] [--name NAME]
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import yaml

from common import DEFAULT_MODEL, JETSENTRY, SAMPLE_SCENE, CpuMonitor, bench_arguments, require_file, write_result
from tests.support.broker import Broker, Subscriber

DEVICE_ID = "bench"


def _durable_ids(db_path: Path) -> list[str]:
    with sqlite3.connect(db_path) as db:  # a reader beside the daemon: fine in WAL mode
        rows = db.execute("SELECT payload FROM messages WHERE droppable = 1 ORDER BY id").fetchall()
    return [json.loads(payload)["message_id"] for (payload,) in rows]


def _split(message_id: str) -> tuple[str, int, int]:
    _, camera, run, seq = message_id.split("/")
    return camera, int(run), int(seq)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "broker_outage", clip=False)
    parser.add_argument("--outage", type=float, default=200.0, help="seconds the broker is stopped")
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--fps-cap", type=float, default=5.0)
    args = parser.parse_args()
    model = require_file(args.model or DEFAULT_MODEL, "model")
    video = require_file(SAMPLE_SCENE, "the sample scene")

    with tempfile.TemporaryDirectory(prefix="jetsentry-outage-") as tmp, CpuMonitor() as monitor:
        workdir = Path(tmp)
        broker = Broker(workdir / "broker", persistence=True).start()
        subscriber = Subscriber(broker, f"jetsentry/{DEVICE_ID}/+/detections", persistent=True).start()
        broker.save()
        config = {
            "device_id": DEVICE_ID, "state_dir": str(workdir / "state"),
            "cameras": [{"id": f"cam{n + 1}", "source": str(video), "fps_cap": args.fps_cap}
                        for n in range(args.cameras)],
            "model": {"path": str(model)},
            "mqtt": {"host": broker.host, "port": broker.port, "reconnect_min_s": 0.5, "reconnect_max_s": 5},
        }
        config_path = workdir / "jetsentry.yaml"
        config_path.write_text(yaml.safe_dump(config))
        log_path = workdir / "daemon.log"
        with open(log_path, "wb") as log:
            daemon = subprocess.Popen([JETSENTRY, "run", "--config", str(config_path)], stdout=log,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while len(subscriber.messages) < 40:
                if daemon.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"no live messages:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.2)
            before = len(subscriber.messages)
            print(f"live: {before} messages; stopping the broker for {args.outage:g} s", flush=True)
            broker.stop()
            stopped = time.monotonic()
            time.sleep(args.outage)
            kept = _durable_ids(workdir / "state" / "outbox.db")
            print(f"outage over: {len(kept)} detections kept in the outbox; starting the broker", flush=True)
            broker.start()
            returned = time.monotonic()
            wanted = set(kept)
            deadline = returned + 300
            while True:
                received = {json.loads(m.payload)["message_id"] for m in subscriber.messages}
                if wanted <= received or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            all_arrived_s = time.monotonic() - returned
            messages = [json.loads(m.payload)["message_id"] for m in subscriber.messages]
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(60)
            except subprocess.TimeoutExpired:
                daemon.kill()
            subscriber.stop()
            broker.stop()
        monitor.sample_own()

    missing = sorted(wanted - set(messages))
    per_camera: dict[str, list[int]] = defaultdict(list)
    for message_id in messages:
        camera, _run, seq = _split(message_id)
        per_camera[camera].append(seq)
    out_of_order = {cam: sum(1 for a, b in zip(seqs, seqs[1:]) if b < a) for cam, seqs in per_camera.items()}
    duplicates = len(messages) - len(set(messages))
    result = {
        "cameras": args.cameras, "fps_cap": args.fps_cap, "outage_s": round(returned - stopped, 1),
        "kept_during_outage": len(kept), "missing": len(missing), "missing_first": missing[:10],
        "out_of_order": out_of_order, "duplicates": duplicates, "received": len(messages),
        "all_kept_arrived_s": round(all_arrived_s, 2),
        "replay_rate_per_s": round(len(kept) / all_arrived_s, 1) if all_arrived_s > 0 else None,
    }
    print(json.dumps(result), flush=True)
    write_result(args.name, result, load=monitor.record, judge_load=False)
    raise SystemExit(0 if not missing and not any(out_of_order.values()) else 1)


if __name__ == "__main__":
    main()
