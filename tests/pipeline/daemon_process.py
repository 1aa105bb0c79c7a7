"""`jetsentry run` in a real subprocess, with its log captured for assertions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO / "engines" / "models" / "jetsentry-default.onnx"
SAMPLE_VIDEO = REPO / "engines" / "samples" / "sample-scene.mp4"


def daemon_config(path: Path, *, port: int, cameras: list[dict], device_id: str = "testdev", **extra) -> Path:
    data = {
        "device_id": device_id,
        "state_dir": str(path.parent / "state"),  # run counter and disk outbox beside the config
        "cameras": cameras,
        "model": {"path": str(DEFAULT_MODEL), "threads": 1},
        "capture": {"backoff_base_s": 0.1, "backoff_cap_s": 0.8, "stall_timeout_s": 2, "connect_timeout_s": 3},
        "mqtt": {"host": "127.0.0.1", "port": port, "reconnect_min_s": 0.1, "reconnect_max_s": 0.5},
    }
    for key, value in extra.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    path.write_text(yaml.safe_dump(data))
    return path


class DaemonProcess:
    """`module` is what `python -m` runs (a test launcher may wrap jetsentry's CLI); `env`
    adds to the environment."""

    def __init__(self, config: Path, *, module: str = "jetsentry", env: dict[str, str] | None = None) -> None:
        self.config = config
        self.module = module
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self._lines: list[str] = []
        self._lock = threading.Lock()

    def start(self) -> "DaemonProcess":
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, "run", "--config", str(self.config)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        return self

    def _pump(self) -> None:
        for line in self.proc.stdout:
            with self._lock:
                self._lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        with self._lock:
            return "\n".join(self._lines)

    def wait_log(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"daemon log never showed {text!r}; log:\n{self.log[-3000:]}")
            time.sleep(0.05)

    def wait_mapped(self, library: str, timeout: float) -> None:
        """Block until the process has `library` (part of a shared object's path) mapped: it is
        importing or loading that, right now or a moment ago."""
        maps = Path(f"/proc/{self.proc.pid}/maps")
        deadline = time.monotonic() + timeout
        while True:
            try:
                if library in maps.read_text():
                    return
            except (FileNotFoundError, ProcessLookupError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"daemon never mapped {library!r}; log:\n{self.log[-3000:]}")
            time.sleep(0.001)

    def terminate(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"daemon did not stop on SIGTERM; log:\n{self.log[-3000:]}") from None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
