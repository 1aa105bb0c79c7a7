"""stop() while the broker is away: what is queued still goes out if the broker returns in time."""

from __future__ import annotations

import logging
import threading
import time

from jetsentry.publish import detections_topic
from tests.support.broker import Subscriber, wait_until

TOPIC = detections_topic("jetsentry", "dev1", "cam1")


def _all_then_offline(count: int):
    """Every message 0..count-1 arrived, and after the last of them the offline status."""
    wanted = {str(i).encode() for i in range(count)}

    def check(messages) -> bool:
        last_data = max((i for i, m in enumerate(messages) if m.topic == TOPIC), default=-1)
        arrived = {m.payload for m in messages if m.topic == TOPIC}
        return arrived >= wanted and any(m.payload == b"offline" for m in messages[last_data + 1:])
    return check


def test_stop_during_an_outage_delivers_the_queue_when_the_broker_returns_within_the_flush_time(
    mosquitto_factory, publishers
):
    broker = mosquitto_factory(persistence=True)
    subscriber = Subscriber(broker, ["jetsentry/dev1/#"], persistent=True).start()
    broker.save()
    publisher = publishers(broker.port, reconnect_max_s=30.0)  # a long backoff must not delay the flush
    wait_until(lambda: publisher.connected, 10, "the publisher to connect")
    broker.stop()
    wait_until(lambda: not publisher.connected, 10, "the publisher to see the outage")
    for seq in range(40):
        publisher.publish(TOPIC, str(seq).encode())
    stopper = threading.Thread(target=publisher.stop, kwargs={"timeout": 5.0})
    stopper.start()
    time.sleep(1.0)  # stop() is under way, with no broker
    assert stopper.is_alive()
    broker.start()
    stopper.join(15)
    assert not stopper.is_alive()
    try:
        subscriber.wait_for(_all_then_offline(40), 15, "all 40 queued messages, then the offline status")
    finally:
        subscriber.stop()
    assert publisher.sent == 40 and publisher.queued == 0


def test_stop_during_an_outage_that_outlasts_the_flush_time_reports_what_is_lost(
    mosquitto_factory, publishers, caplog
):
    broker = mosquitto_factory()
    publisher = publishers(broker.port)
    wait_until(lambda: publisher.connected, 10, "the publisher to connect")
    broker.kill()
    wait_until(lambda: not publisher.connected, 10, "the publisher to see the outage")
    for seq in range(7):
        publisher.publish(TOPIC, str(seq).encode())
    attempts_before = publisher.reconnects
    with caplog.at_level(logging.WARNING, "jetsentry.publish.mqtt"):
        publisher.stop(timeout=1.0)
    assert "MQTT publisher stopped with 7 undelivered messages" in caplog.text
    assert publisher.reconnects > attempts_before  # it went on trying while stopping
