"""The publisher's wake-up: a message published while the network thread drains its wake socket
must not leave later messages waiting for the next select timeout (up to 0.5 s: the publish
step's long waits of docs/PERFORMANCE.md row 4)."""

from __future__ import annotations

import threading

from jetsentry.publish import detections_topic
from tests.support.broker import Subscriber, wait_until

TOPIC = detections_topic("jetsentry", "dev1", "cam1")


class _DrainHook:
    """The wake socket's reading end, running `hook` (once) inside the network thread's drain."""

    def __init__(self, sock, hook) -> None:
        self._sock = sock
        self._hook = hook

    def fileno(self) -> int:
        return self._sock.fileno()

    def recv(self, size: int) -> bytes:
        hook, self._hook = self._hook, None
        if hook is not None:
            hook()
        return self._sock.recv(size)

    def close(self) -> None:
        self._sock.close()


class _CountingSends:
    """The wake socket's writing end, counting the wake-ups sent."""

    def __init__(self, sock) -> None:
        self._sock = sock
        self.sends = 0

    def send(self, data: bytes) -> int:
        self.sends += 1
        return self._sock.send(data)

    def close(self) -> None:
        self._sock.close()


def test_a_publish_during_the_drain_leaves_the_next_publish_waking_the_thread(mosquitto_broker, publishers):
    publisher = publishers(mosquitto_broker.port)
    wait_until(lambda: publisher.connected, 10, "the publisher to connect")
    with Subscriber(mosquitto_broker, "jetsentry/dev1/+/detections").start() as subscriber:

        def publish_from_another_thread() -> None:  # a camera's message lands in the middle of the drain
            caller = threading.Thread(target=publisher.publish, args=(TOPIC, b"during the drain"))
            caller.start()
            caller.join()

        publisher._wake_r = _DrainHook(publisher._wake_r, publish_from_another_thread)
        wakes = publisher._wake_w = _CountingSends(publisher._wake_w)
        publisher.publish(TOPIC, b"first")
        subscriber.wait_for(lambda ms: len(ms) >= 2, 10, "both messages")

        before = wakes.sends
        publisher.publish(TOPIC, b"next")
        assert wakes.sends == before + 1, "the next message did not wake the network thread"
        subscriber.wait_for(lambda ms: len(ms) >= 3, 10, "the next message")
