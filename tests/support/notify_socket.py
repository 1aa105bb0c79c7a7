"""A real $NOTIFY_SOCKET: an AF_UNIX datagram socket that records every sd_notify message."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Notification:
    at: float  # time.monotonic() when it arrived
    fields: dict[str, str]  # assignment name -> value, e.g. {"READY": "1", "STATUS": "..."}

    def __contains__(self, name: str) -> bool:
        return name in self.fields


class NotifySocket:
    """Bound at `path` (or, with abstract=True, an abstract name); `address` is what goes into
    $NOTIFY_SOCKET.  Messages are collected on a thread until close()."""

    def __init__(self, path: Path, *, abstract: bool = False) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"jetsentry-test-{os.getpid()}-{id(self)}"
            self._sock.bind(b"\0" + name.encode())
            self.address = "@" + name
        else:
            self._sock.bind(str(path))
            self.address = str(path)
        self._sock.settimeout(0.1)
        self._messages: list[Notification] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            fields = dict(line.partition("=")[::2] for line in data.decode().split("\n") if line)
            with self._lock:
                self._messages.append(Notification(time.monotonic(), fields))

    @property
    def messages(self) -> list[Notification]:
        with self._lock:
            return list(self._messages)

    def with_field(self, name: str) -> list[Notification]:
        return [m for m in self.messages if name in m]

    def wait_for(self, condition: Callable[[list[Notification]], object], timeout: float, what: str,
                 alive: Callable[[], bool] = lambda: True) -> list[Notification]:
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages
            if condition(messages):
                return messages
            if time.monotonic() > deadline or not alive():
                statuses = [m.fields for m in messages][-15:]
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; last messages: {statuses}")
            time.sleep(0.02)

    def close(self) -> None:
        self._closed.set()
        self._thread.join()
        self._sock.close()

    def __enter__(self) -> NotifySocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
