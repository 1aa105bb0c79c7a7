"""MqttPublisher while the broker is away: queueing, retries, resends and overflow.

The subscriber holds a persistent session on a persistent broker, saved before the
outage, so it misses nothing whichever of the two clients reconnects first.
"""

from __future__ import annotations

import logging
import threading
import time

from jetsentry.publish import detections_topic
from tests.support.broker import Subscriber, wait_until

CAMERAS = ("cam1", "cam2")


def _payload(camera: str, seq: int) -> bytes:
    return f"{camera}:{seq}".encode()


def _first_arrivals(messages) -> dict[str, list[int]]:
    """camera -> seqs in order of first arrival (duplicates from resends ignored)."""
    seen: dict[str, list[int]] = {camera: [] for camera in CAMERAS}
    for message in messages:
        camera, seq = message.payload.decode().split(":")
        if int(seq) not in seen[camera]:
            seen[camera].append(int(seq))
    return seen


def _all_arrived(count: int):
    def check(messages) -> bool:
        return all(len(seqs) == count for seqs in _first_arrivals(messages).values())
    return check


def _waiting_subscriber(broker) -> Subscriber:
    subscriber = Subscriber(broker, "jetsentry/dev1/+/detections", persistent=True).start()
    broker.save()
    return subscriber


def test_broker_down_at_start_up_then_everything_queued_is_delivered(mosquitto_factory, publishers):
    broker = mosquitto_factory(persistence=True)
    subscriber = _waiting_subscriber(broker)
    broker.stop()
    publisher = publishers(broker.port)
    for seq in range(30):
        for camera in CAMERAS:
            publisher.publish(detections_topic("jetsentry", "dev1", camera), _payload(camera, seq))
    wait_until(lambda: publisher.reconnects >= 5, 10, "five retries while the broker is down")
    assert not publisher.connected and publisher.queued == 60

    delays = list(publisher.retry_delays)
    assert [d.ceiling_s for d in delays[:4]] == [0.05, 0.1, 0.2, 0.2]  # grows, then capped
    assert all(0 <= d.delay_s <= d.ceiling_s <= 0.2 for d in delays)
    assert len({d.delay_s for d in delays}) == len(delays)  # jittered

    broker.start()
    try:
        received = subscriber.wait_for(_all_arrived(30), 15, "all 60 queued messages")
    finally:
        subscriber.stop()
    assert _first_arrivals(received) == {camera: list(range(30)) for camera in CAMERAS}
    wait_until(lambda: publisher.sent == 60 and publisher.queued == 0, 5, "every message acknowledged")


def test_broker_killed_mid_stream_loses_nothing(mosquitto_factory, publishers):
    count = 120
    broker = mosquitto_factory(persistence=True)
    subscriber = _waiting_subscriber(broker)
    publisher = publishers(broker.port)
    wait_until(lambda: publisher.connected, 5, "connection")
    sent_all = threading.Event()

    def stream() -> None:
        for seq in range(count):
            for camera in CAMERAS:
                publisher.publish(detections_topic("jetsentry", "dev1", camera), _payload(camera, seq))
            time.sleep(0.003)
        sent_all.set()

    streamer = threading.Thread(target=stream)
    streamer.start()
    try:
        subscriber.wait_for(lambda ms: len(ms) >= 40, 10, "the stream to start")
        # Frozen, the broker reads nothing more: what the publisher sends now stays unacknowledged,
        # and the SIGKILL loses it on the broker side.  Only a resend can deliver it.
        broker.freeze()
        wait_until(lambda: publisher.stats().in_flight >= 5, 10, "unacknowledged messages in flight")
        broker.kill()
        wait_until(lambda: publisher.reconnects >= 2, 10, "retries while the broker is down")
        broker.start()
        received = subscriber.wait_for(_all_arrived(count), 20, f"all {2 * count} messages")
    finally:
        streamer.join()
        subscriber.stop()
    assert sent_all.is_set()
    # Every seq at least once, and per camera in the order it was published.
    assert _first_arrivals(received) == {camera: list(range(count)) for camera in CAMERAS}
    stats = publisher.stats()
    assert stats.connects >= 2 and stats.dropped_overflow == 0


def test_overflow_drops_the_oldest_and_counts_exactly(mosquitto_factory, publishers, caplog):
    caplog.set_level(logging.WARNING, logger="jetsentry.publish")
    broker = mosquitto_factory(persistence=True)
    subscriber = _waiting_subscriber(broker)
    broker.stop()
    publisher = publishers(broker.port, queue_max=5)
    for seq in range(12):
        publisher.publish(detections_topic("jetsentry", "dev1", "cam1"), _payload("cam1", seq))
    assert (publisher.dropped_overflow, publisher.queued) == (7, 5)
    warnings = [r.getMessage() for r in caplog.records if "outbox full" in r.getMessage()]
    assert len(warnings) == 1  # rate-limited: the first drop is reported, the rest are counted
    assert "dropped the 1 oldest" in warnings[0]

    broker.start()
    try:
        received = subscriber.wait_for(lambda ms: len(ms) >= 5, 15, "the 5 newest messages")
        wait_until(lambda: publisher.sent == 5, 5, "5 acknowledged messages")
    finally:
        subscriber.stop()
    assert [m.payload for m in received] == [_payload("cam1", seq) for seq in range(7, 12)]
    assert publisher.dropped_overflow == 7
