"""The real daemon (`jetsentry run --config`) against a real Mosquitto, with a timing subscriber.

Used by the daemon, latency and soak benchmarks.  The broker and the daemon are
child processes of the benchmark; the subscriber records each message's arrival wall
time (same host clock as the daemon's capture_ts).
"""

from __future__ import annotations

import json
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml

from common import JETSENTRY
from tests.support.broker import Broker, Subscriber

DEVICE_ID = "bench"


class TimedSubscriber(Subscriber):
    """A Subscriber that also keeps each message's arrival time (time.time())."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._arrivals: list[float] = []
        self._arrival_lock = threading.Lock()

    def _on_message(self, client, userdata, message) -> None:
        arrived = time.time()
        super()._on_message(client, userdata, message)
        with self._arrival_lock:
            self._arrivals.append(arrived)

    def count(self) -> int:
        with self._arrival_lock:
            return len(self._arrivals)

    def timed_messages(self, start: int = 0) -> list[tuple[float, bytes]]:
        """(arrival time, payload) of messages from index `start` on."""
        messages = self.messages
        with self._arrival_lock:
            arrivals = list(self._arrivals)
        n = min(len(messages), len(arrivals))
        return [(arrivals[i], messages[i].payload) for i in range(start, n)]


@dataclass
class Camera:
    id: str
    source: str
    options: dict = field(default_factory=dict)  # extra CameraConfig fields (fps_cap, on_eos, rtsp)


def parse_utc(text: str) -> float:
    """capture_ts / processed_ts ('2024-05-01T12:00:00.123Z') -> epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def daemon_config(cameras: list[Camera], model: Path, *, batching: dict | None = None,
                  capture: dict | None = None, log_level: str = "INFO", sections: dict | None = None) -> dict:
    """The generated configuration, without its `mqtt` section (the broker's port); `sections`
    adds top-level sections (a `model` one adds to the generated model section)."""
    config = {
        "device_id": DEVICE_ID,
        "cameras": [{"id": cam.id, "source": cam.source, **cam.options} for cam in cameras],
        "model": {"path": str(model)},
        "logging": {"level": log_level},
    }
    if batching:
        config["batching"] = batching
    if capture:
        config["capture"] = capture
    for key, value in (sections or {}).items():
        config[key] = {**config[key], **value} if key == "model" else value
    return config


class DaemonRun:
    """Broker + subscriber + `jetsentry run` on a generated config; use as a context manager.

    `launcher`: the argv that runs `jetsentry` (default: the venv's jetsentry script), e.g.
    under bench/memprobe.py; `mqtt`: more of the mqtt section (outbox, ...) beside the broker's
    address; the other keywords go to daemon_config().
    """

    def __init__(self, cameras: list[Camera], model: Path, *, launcher: list[str] | None = None,
                 mqtt: dict | None = None, **config_options) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="jetsentry-bench-")
        self.workdir = Path(self._tmp.name)
        self.broker = Broker(self.workdir / "broker")
        config = {**daemon_config(cameras, model, **config_options),
                  "mqtt": {**(mqtt or {}), "host": self.broker.host, "port": self.broker.port}}
        self.config_path = self.workdir / "jetsentry.yaml"
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.log_path = self.workdir / "daemon.log"
        self.command = [*(launcher or [JETSENTRY]), "run", "--config", str(self.config_path)]
        self.subscriber: TimedSubscriber | None = None
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> DaemonRun:
        try:
            self.broker.start()
            self.subscriber = TimedSubscriber(self.broker, f"jetsentry/{DEVICE_ID}/+/detections").start()
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_for_messages(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.subscriber.count() < count:
            if self.process.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.process.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"no {count} messages within {timeout_s} s:\n{self.log_tail()}")
            time.sleep(0.1)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"daemon exited with {self.process.returncode}:\n{self.log_tail()}")

    def stop_daemon(self, timeout_s: float = 30.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise RuntimeError(f"daemon ignored SIGTERM for {timeout_s} s:\n{self.log_tail()}") from None

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.stop_daemon()
        finally:
            if self.subscriber is not None:
                self.subscriber.stop()
            self.broker.stop()
            self._tmp.cleanup()


def message_fields(payloads: list[tuple[float, bytes]]) -> list[tuple[float, dict]]:
    return [(arrived, json.loads(payload)) for arrived, payload in payloads]
