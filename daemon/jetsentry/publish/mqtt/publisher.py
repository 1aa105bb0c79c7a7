"""MQTT publisher on paho-mqtt 2.x, driven by its own network thread and reconnect loop.

Callers hand messages to `publish()`, which only appends to an `Outbox` and wakes the
network thread; all socket work happens on that thread.  Each connection attempt uses a
fresh paho client (paho's own retry and resend machinery stays unused), so what gets
resent after a drop is decided here: every message not acknowledged by the broker goes
back to the front of the outbox, in its original order.  The network thread also commits
the outbox (a disk outbox's group commit), connected or not, so the caller never waits
for the disk.  Topics given to `subscribe()` are subscribed at every connect; what arrives
on them goes to their handlers, on the network thread.
"""

from __future__ import annotations

import logging
import random
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode

from jetsentry.backoff import Backoff, RetryDelay
from jetsentry.config.models import MqttConfig
from jetsentry.config.tls import TlsProblem
from jetsentry.health.heartbeat import Heartbeat
from jetsentry.publish.mqtt.callbacks import PahoCallbacks, guarded
from jetsentry.publish.mqtt.counters import DropCounter, PublisherStats
from jetsentry.publish.mqtt.link import (
    CONNECT_TIMEOUT_S,
    MAX_PAYLOAD_BYTES,
    SEND_WINDOW,
    STATUS_OFFLINE,
    Link,
    new_client,
)
from jetsentry.publish.outbox import MemoryOutbox, Outbox, OutgoingMessage
from jetsentry.publish.tls_errors import describe_tls_error
from jetsentry.publish.topics import status_topic

log = logging.getLogger("jetsentry.publish.mqtt")

# Longest sleep of the network thread; bounds how late keepalive and deadlines are checked.
SELECT_TIMEOUT_S = 0.5
# Longest wait between connection attempts once stop() was called: the broker may come back
# within the flush time, and what is queued should reach it.
STOPPING_RETRY_S = 0.5

# Called with (topic, payload) on the network thread for each message on a subscribed topic;
# it must return at once (hand the work to another thread).
MessageHandler = Callable[[str, bytes], Any]


class MqttPublisher(PahoCallbacks):
    """Publishes to one broker with a bounded outbox, its own reconnect loop and a status topic.

    Every topic is under `{prefix}/{device_id}/` (publish() refuses others), the branch a
    per-device broker ACL grants (config/mosquitto/acl.example).

    `{prefix}/{device_id}/status` is retained `online` after each connect and `offline`
    after stop(); the broker publishes `offline` itself (Last Will) if the process dies.
    on_connection_change(connected) is called on the network thread; exceptions in it
    are logged and ignored.  `cfg` is trusted as validated (an MqttConfig cannot be built
    otherwise, short of model_construct): its names and limits are checked there.
    """

    def __init__(
        self,
        cfg: MqttConfig,
        device_id: str,
        *,
        outbox: Outbox | None = None,
        on_connection_change: Callable[[bool], Any] | None = None,
        rng: random.Random | None = None,
    ):
        self._cfg = cfg
        self.device_id = device_id
        self.status_topic = status_topic(cfg.topic_prefix, device_id)
        # Everything this device publishes is under its own branch, which the broker's ACL grants it.
        self.own_prefix = f"{cfg.topic_prefix}/{device_id}/"
        self.client_id = cfg.client_id or f"jetsentry-{device_id}"
        self._outbox: Outbox = outbox if outbox is not None else MemoryOutbox(cfg.queue_max)
        self._on_connection_change = on_connection_change
        self._backoff = Backoff(cfg.reconnect_min_s, cfg.reconnect_max_s, rng)
        self.retry_delays: deque[RetryDelay] = deque(maxlen=256)  # recent backoff draws, for health and tests

        self._lock = threading.Lock()  # guards the outbox and the counters below
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._wake_pending = False
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._closed = False
        self._flush_deadline = 0.0
        self._stop_deadline = 0.0
        self._said_offline = False  # a clean stop's DISCONNECT has been sent
        # Beaten by the network thread at every turn of its loops, connected or backing off.
        self.heartbeat = Heartbeat("publisher")

        self._connected = False
        self._sent = 0
        self._drops = DropCounter()
        self._dropped = self._drops.dropped  # by the outbox's drop_reason
        self._dropped_rejected = 0
        self._connects = 0
        self._reconnects = 0
        self._subscriptions: dict[str, tuple[int, MessageHandler]] = {}

    # ----------------------------------------------------------------- caller side

    def start(self) -> None:
        if self._thread is not None or self._closed:
            raise RuntimeError("MqttPublisher can be started once")
        self.heartbeat.start()
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{self.client_id}", daemon=True)
        self._thread.start()

    def subscribe(self, topic: str, handler: MessageHandler, qos: int = 1) -> None:
        """Subscribe to `topic` (exact, under this device's branch) at every connect, before start();
        `handler(topic, payload)` runs on the network thread and must not block."""
        if self._thread is not None:
            raise RuntimeError("subscribe() before start()")
        if not topic.startswith(self.own_prefix) or "+" in topic or "#" in topic:
            raise ValueError(f"cannot subscribe to {topic!r}: device {self.device_id!r} reads only exact topics "
                             f"under {self.own_prefix!r}")
        if qos not in (0, 1):
            raise ValueError(f"qos must be 0 or 1, got {qos!r}")
        self._subscriptions[topic] = (qos, handler)

    def publish(self, topic: str, payload: bytes, qos: int | None = None, *, retain: bool = False) -> None:
        """Queue one message; returns at once (no network I/O on the caller's thread)."""
        if self._closed:
            raise RuntimeError("publish() after stop()")
        if not isinstance(topic, str) or not topic or "+" in topic or "#" in topic:
            raise ValueError(f"cannot publish to topic {topic!r}: it must be non-empty, without '+' or '#'")
        if not topic.startswith(self.own_prefix):
            raise ValueError(f"cannot publish to topic {topic!r}: device {self.device_id!r} publishes only under "
                             f"{self.own_prefix!r}")
        if not isinstance(payload, (bytes, bytearray)):
            raise TypeError(f"payload must be bytes, got {type(payload).__name__}")
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload of {len(payload)} bytes exceeds MQTT's limit of {MAX_PAYLOAD_BYTES}")
        qos = self._cfg.qos if qos is None else qos
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, got {qos!r}")
        message = OutgoingMessage(topic, bytes(payload), qos, retain)
        with self._lock:
            dropped = self._outbox.put(message)
            warning = self._drops.count(self._outbox, dropped) if dropped else None
            wake = not self._wake_pending
            self._wake_pending = True
        if warning:
            log.warning(*warning)
        if wake:
            self._wake()

    def stop(self, timeout: float = 5.0) -> None:
        """Flush what can be sent within timeout, publish retained `offline`, disconnect cleanly.

        Without a connection it goes on trying to connect until the flush time is up, so a
        broker that comes back meanwhile still gets what was queued."""
        if self._closed:
            return
        self._closed = True
        now = time.monotonic()
        self._stop_deadline = now + timeout
        # Keep a slice of the time for the offline status and DISCONNECT.
        self._flush_deadline = self._stop_deadline - min(1.0, 0.25 * timeout)
        self._stopping.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout + CONNECT_TIMEOUT_S)
            if self._thread.is_alive():
                log.warning("MQTT network thread did not stop within %.1f s", timeout + CONNECT_TIMEOUT_S)
                return
        left = self.queued
        self._outbox.close()
        if left and self._outbox.drop_reason == "quota":
            log.info("MQTT publisher stopped with %d undelivered messages, kept in the disk outbox for the next "
                     "start", left)
        elif left:
            log.warning("MQTT publisher stopped with %d undelivered messages (memory outbox: discarded)", left)
        self._wake_r.close()
        self._wake_w.close()

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._outbox)

    @property
    def sent(self) -> int:
        return self._sent

    @property
    def dropped_overflow(self) -> int:
        return self._dropped["overflow"]

    @property
    def dropped_quota(self) -> int:
        return self._dropped["quota"]

    @property
    def reconnects(self) -> int:
        return self._reconnects

    def stats(self) -> PublisherStats:
        with self._lock:
            return PublisherStats(
                connected=self._connected,
                queued=len(self._outbox),
                in_flight=self._outbox.in_flight,
                sent=self._sent,
                dropped_overflow=self._dropped["overflow"],
                dropped_quota=self._dropped["quota"],
                dropped_rejected=self._dropped_rejected,
                connects=self._connects,
                reconnects=self._reconnects,
                outbox_bytes=self._outbox.nbytes,
            )

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:  # buffer full (a wake-up is pending anyway) or closed during stop
            pass

    # ------------------------------------------------------------ network thread

    def _keeps_trying(self) -> bool:
        """Until stop(); then until the flush deadline, unless the clean stop is done already."""
        if not self._stopping.is_set():
            return True
        return not self._said_offline and time.monotonic() < self._flush_deadline

    def _run(self) -> None:
        try:
            self._connect_loop()
        finally:
            self._commit()  # what came in last is on disk for the next start
            self.heartbeat.finish()

    def _commit(self) -> None:
        try:
            self._outbox.commit()
        except Exception:  # the outbox logs its own disk errors; this is a bug: keep the thread alive
            log.exception("MQTT: outbox commit failed")

    def _idle(self, seconds: float) -> None:
        """Sleep until stop() or `seconds`, committing what publish() hands over meanwhile."""
        deadline = time.monotonic() + seconds
        while True:
            self.heartbeat.beat()  # a backoff wait is not a wedged publisher
            self._commit()
            left = deadline - time.monotonic()
            if left <= 0 or self._stopping.is_set():
                return
            readable, _, _ = select.select([self._wake_r], [], [], min(left, SELECT_TIMEOUT_S))
            if readable:
                self._drain_wake()

    def _connect_loop(self) -> None:
        first_attempt = True
        while self._keeps_trying():
            self.heartbeat.beat()
            if not first_attempt:
                self._reconnects += 1
            first_attempt = False
            link = None
            try:
                link = self._connect()
                if link is not None:
                    self._serve(link)
            except Exception:  # keep the thread alive whatever paho or a bug throws
                log.exception("MQTT network loop failed; reconnecting")
            finally:
                if link is not None:
                    self._close(link)
            if not self._keeps_trying():
                break
            delay = self._backoff.next_delay()
            self.retry_delays.append(delay)
            if self._stopping.is_set():  # queued messages wait: retry often until the flush deadline
                time.sleep(max(0.0, min(delay.delay_s, STOPPING_RETRY_S, self._flush_deadline - time.monotonic())))
                self._commit()
                continue
            log.info("MQTT: next connection attempt to %s:%d in %.2f s", self._cfg.host, self._cfg.port, delay.delay_s)
            self._idle(delay.delay_s)

    def _connect(self) -> Link | None:
        try:
            client = new_client(self._cfg, self.client_id, self.status_topic)
        except TlsProblem as exc:
            log.error("MQTT: cannot connect to %s:%d over TLS: %s", self._cfg.host, self._cfg.port, exc)
            return None
        link = Link(client)
        client.on_connect = guarded("on_connect", partial(self._on_connect, link))
        client.on_disconnect = guarded("on_disconnect", partial(self._on_disconnect, link))
        client.on_publish = guarded("on_publish", partial(self._on_publish, link))
        client.on_log = guarded("on_log", partial(self._on_log, link))
        client.on_message = guarded("on_message", self._on_message)
        try:
            client.connect(self._cfg.host, self._cfg.port, keepalive=self._cfg.keepalive_s)
        except OSError as exc:
            tls_failure = describe_tls_error(exc)
            if tls_failure:
                log.error("MQTT: TLS connection to %s:%d failed: %s", self._cfg.host, self._cfg.port, tls_failure)
            else:
                log.warning("MQTT: cannot reach broker %s:%d: %s", self._cfg.host, self._cfg.port, exc)
            return None
        return link

    def _serve(self, link: Link) -> None:
        client = link.client
        connack_deadline = time.monotonic() + self._cfg.keepalive_s
        while True:
            self.heartbeat.beat()
            if link.lost or client.socket() is None:
                return
            now = time.monotonic()
            if not link.connected:
                if self._stopping.is_set() and now >= self._flush_deadline:
                    return
                if now > connack_deadline:
                    log.warning("MQTT: no CONNACK from %s:%d within %d s", self._cfg.host, self._cfg.port,
                                self._cfg.keepalive_s)
                    return
            elif self._stopping.is_set():
                if self._finish(link, now):
                    self._said_offline = True
                    return
            if link.connected and link.offline_mid is None:
                self._pump(link)  # before the commit: a message does not wait for its fsync to be sent
                if link.lost:
                    return
            self._commit()
            timeout = SELECT_TIMEOUT_S
            if self._stopping.is_set():
                timeout = max(0.0, min(timeout, self._stop_deadline - now))
            sock = client.socket()
            # Bytes TLS has already decrypted wait in the SSL object, where select cannot see them.
            buffered = sock.pending() if isinstance(sock, ssl.SSLSocket) else 0
            readable, writable, _ = select.select(
                [sock, self._wake_r], [sock] if client.want_write() else [], [], 0.0 if buffered else timeout
            )
            if self._wake_r in readable:
                self._drain_wake()
            if sock in readable or buffered:
                client.loop_read()
            if writable and not link.lost:
                client.loop_write()
            if not link.lost:
                client.loop_misc()

    def _drain_wake(self) -> None:
        # Drained before the flag is cleared: a publish() in between sends no byte (the flag is
        # still set), and its message is pumped on this turn of the loop; cleared first, its byte
        # would be drained with the flag left set, and no later publish() would wake the thread.
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:  # BlockingIOError: drained
            pass
        with self._lock:
            self._wake_pending = False

    def _pump(self, link: Link) -> None:
        """Hand waiting messages to paho until the send window is full."""
        while not link.lost:
            room = SEND_WINDOW - len(link.pending)
            if room <= 0:
                return
            with self._lock:
                batch = self._outbox.pop_batch(room)
            if not batch:
                return
            for key, message in batch:
                info = link.client.publish(message.topic, message.payload, message.qos, message.retain)
                if info.rc in (MQTTErrorCode.MQTT_ERR_NO_CONN, MQTTErrorCode.MQTT_ERR_CONN_LOST) or link.lost:
                    link.lost = True  # the rest of the batch is requeued with everything unacknowledged
                    return
                if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    log.error("MQTT: paho rejected a message to %s (%s); dropped", message.topic,
                              paho.error_string(info.rc))
                    with self._lock:
                        self._outbox.ack(key)
                        self._dropped_rejected += 1
                elif info.mid in link.early_acks:
                    link.early_acks.discard(info.mid)
                    self._acked(key)
                else:
                    link.pending[info.mid] = key

    def _acked(self, key: int) -> None:
        with self._lock:
            self._outbox.ack(key)
            self._sent += 1

    def _finish(self, link: Link, now: float) -> bool:
        """One step of a clean stop; True once DISCONNECT has been sent."""
        if link.offline_mid is None:
            with self._lock:
                flushed = len(self._outbox) == 0
            if flushed or now >= self._flush_deadline:
                info = link.client.publish(self.status_topic, STATUS_OFFLINE, qos=1, retain=True)
                link.offline_mid = info.mid
            return False
        if link.offline_acked or now >= self._stop_deadline:
            if not link.offline_acked:
                log.warning("MQTT: broker did not acknowledge the offline status before the stop timeout")
            link.client.disconnect()  # a clean DISCONNECT: the broker discards the Last Will
            return True
        return False

    def _close(self, link: Link) -> None:
        sock = link.client.socket()
        if sock is not None:  # CONNACK timeout or an exception: drop without DISCONNECT
            sock.close()
        if link.connected:
            self._set_disconnected(link, "closed")
        with self._lock:
            requeued = self._outbox.requeue_unacked()
        if requeued and not self._stopping.is_set():
            log.info("MQTT: %d unacknowledged messages requeued for resend", requeued)
