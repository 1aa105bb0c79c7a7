"""A real Mosquitto broker for tests, and a subscriber that collects what it receives.

`Broker` runs /usr/sbin/mosquitto on a free loopback port with a generated config; it can
be stopped cleanly, killed with SIGKILL and started again on the same port (outage
tests).  With `persistence=True` the broker keeps sessions across restarts, so a
persistent `Subscriber` misses nothing published while it reconnects.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
NOT_INSTALLED = (
    "the MQTT tests need a real Mosquitto broker, but no mosquitto executable was found "
    "(looked in /usr/sbin, /usr/local/sbin and $PATH); install it: sudo apt-get install mosquitto"
)


class MosquittoNotInstalled(RuntimeError):
    pass


def find_mosquitto() -> str:
    for candidate in MOSQUITTO_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("mosquitto")
    if found:
        return found
    raise MosquittoNotInstalled(NOT_INSTALLED)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.01) -> None:
    """Poll condition until it is truthy; AssertionError naming `what` after timeout."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@dataclass(frozen=True)
class BrokerTls:
    """A TLS listener: the server's certificate and key, the CA that signs client certificates,
    and whether a client certificate is required (its common name then becomes the user name)."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    require_certificate: bool = False


class Broker:
    """One mosquitto process on 127.0.0.1:port, configured in workdir.

    With `tls` the listener speaks TLS (1.2 or newer).  `config_text` replaces the generated
    listener and authentication lines with a whole mosquitto.conf (a shipped example with
    its paths adapted); `{port}` in it is the broker's port."""

    host = "127.0.0.1"

    def __init__(self, workdir: Path, *, users: dict[str, str] | None = None, persistence: bool = False,
                 port: int | None = None, tls: BrokerTls | None = None, config_text: str | None = None):
        self.executable = find_mosquitto()
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.users = users
        self.persistence = persistence
        self.tls = tls
        self.config_text = config_text
        self.config_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self.db_path = self.workdir / "mosquitto.db"
        self._process: subprocess.Popen | None = None
        self._write_config()

    def _write_config(self) -> None:
        lines = [
            # Never drop privileges: the work directory belongs to the test user.
            f"user {getpass.getuser()}",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            # Deliver to subscribers at once instead of holding messages in broker memory,
            # where a SIGKILL would lose them after the publisher got its PUBACK.
            "max_inflight_messages 0",
            "max_queued_messages 100000",
        ]
        if self.config_text is not None:  # it also says how clients authenticate
            lines.append(self.config_text.replace("{port}", str(self.port)))
        elif self.users is None:
            lines += [*self._listener_lines(), "allow_anonymous true"]
        else:
            password_file = self.workdir / "passwords"
            password_file.write_text("")
            password_file.chmod(0o600)
            for user, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(password_file), user, password], check=True,
                               capture_output=True)
            lines += [*self._listener_lines(), "allow_anonymous false", f"password_file {password_file}"]
        if self.persistence:
            # Saved only on clean exit or SIGUSR1 (save()): tests decide what survives a kill.
            lines += ["persistence true", f"persistence_location {self.workdir}/",
                      f"persistence_file {self.db_path.name}", "autosave_interval 0"]
        self.config_path.write_text("\n".join(lines) + "\n")

    def _listener_lines(self) -> list[str]:
        lines = [f"listener {self.port} {self.host}"]
        if self.tls is not None:
            lines += [f"cafile {self.tls.ca_file}", f"certfile {self.tls.cert_file}",
                      f"keyfile {self.tls.key_file}", "tls_version tlsv1.2"]
            if self.tls.require_certificate:
                lines += ["require_certificate true", "use_identity_as_username true"]
        return lines

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def start(self, timeout: float = 10.0) -> "Broker":
        if self.running:
            raise RuntimeError("broker already running")
        log = open(self.log_path, "ab")
        try:
            self._process = subprocess.Popen([self.executable, "-c", str(self.config_path)], stdout=log,
                                             stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        finally:
            log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self._process.returncode}:\n{self.log_tail()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise RuntimeError(f"mosquitto did not listen on port {self.port}:\n{self.log_tail()}")
                time.sleep(0.01)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM: a clean exit (sessions saved when persistence is on)."""
        if not self.running:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL: the broker vanishes without saving anything."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def freeze(self) -> None:
        """SIGSTOP: the broker stops reading, so published messages stay unacknowledged."""
        self._process.send_signal(signal.SIGSTOP)

    def save(self, timeout: float = 5.0) -> None:
        """Make a running persistent broker write its database now (SIGUSR1), and wait for it."""
        if not (self.persistence and self.running):
            raise RuntimeError("save() needs a running broker with persistence=True")
        before = self.db_path.stat().st_mtime_ns if self.db_path.exists() else None
        self._process.send_signal(signal.SIGUSR1)
        wait_until(lambda: self.db_path.exists() and self.db_path.stat().st_mtime_ns != before, timeout,
                   "mosquitto to save its persistence database")


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool


class Subscriber:
    """A paho client (its own loop thread and reconnects) that records every message it receives.

    persistent=True uses a fixed client id without clean session: with a persistent broker,
    messages published while this subscriber is away are kept for it.
    """

    def __init__(self, broker: Broker, topics: str | list[str], *, qos: int = 1, persistent: bool = False,
                 client_id: str | None = None, username: str | None = None, password: str | None = None,
                 tls: ssl.SSLContext | None = None):
        self.broker = broker
        self.topics = [topics] if isinstance(topics, str) else list(topics)
        self.qos = qos
        if persistent and not client_id:
            client_id = f"test-subscriber-{os.getpid()}-{id(self):x}"
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id or "",
                                   clean_session=not persistent, protocol=paho.MQTTv311)
        if username:
            self._client.username_pw_set(username, password)
        if tls is not None:
            self._client.tls_set_context(tls)
        self._client.reconnect_delay_set(0.05, 0.5)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._subscribed = threading.Event()
        self._changed = threading.Condition()
        self._messages: list[Received] = []

    def _on_connect(self, client, _userdata, _flags, reason, _properties) -> None:
        if not reason.is_failure:
            client.subscribe([(topic, self.qos) for topic in self.topics])

    def _on_subscribe(self, _client, _userdata, _mid, _reasons, _properties) -> None:
        self._subscribed.set()

    def _on_message(self, _client, _userdata, message) -> None:
        with self._changed:
            self._messages.append(Received(message.topic, bytes(message.payload), message.qos,
                                           bool(message.retain)))
            self._changed.notify_all()

    def start(self, timeout: float = 5.0) -> "Subscriber":
        self._client.connect(self.broker.host, self.broker.port, keepalive=10)
        self._client.loop_start()
        if not self._subscribed.wait(timeout):
            self.stop()
            raise AssertionError(f"subscriber got no SUBACK for {self.topics} within {timeout} s")
        return self

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> "Subscriber":
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    @property
    def messages(self) -> list[Received]:
        with self._changed:
            return list(self._messages)

    def on_topic(self, topic: str) -> list[Received]:
        return [m for m in self.messages if m.topic == topic]

    def wait_for(self, condition: Callable[[list[Received]], bool], timeout: float, what: str) -> list[Received]:
        """Block until condition(all messages so far) holds; AssertionError naming `what` on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(self._messages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out after {timeout} s waiting for {what}; got {len(self._messages)} messages, "
                        f"last: {self._messages[-3:]}"
                    )
                self._changed.wait(remaining)
            return list(self._messages)
