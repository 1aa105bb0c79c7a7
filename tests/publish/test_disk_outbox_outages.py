"""MqttPublisher with the disk outbox against a real Mosquitto that goes away: nothing lost, order kept.

The subscriber holds a persistent session on a persistent broker, saved before the outage,
so it misses nothing whichever of the two clients reconnects first.
"""

from __future__ import annotations

import logging
import threading
import time

from jetsentry.metrics.collector import DaemonCollector
from jetsentry.metrics.sources import DaemonSources
from jetsentry.publish import DiskOutbox, detections_topic, health_topic
from tests.support.broker import Subscriber, wait_until

CAMERAS = ("cam1", "cam2", "cam3", "cam4")
RUN = 7
# Outage length of the long test: tens of seconds (the issue asks for minutes; this is what fits
# a test suite on a shared 2-core host), while 4 cameras publish at RATE messages/s each.
OUTAGE_S = 25.0
RATE = 15.0


def _message_id(camera: str, seq: int) -> str:
    return f"dev1/{camera}/{RUN}/{seq}"


def _first_arrivals(messages) -> tuple[dict[str, list[int]], int]:
    """camera -> seqs in order of first arrival, and the number of duplicates (resends)."""
    seen: dict[str, list[int]] = {camera: [] for camera in CAMERAS}
    ids: set[str] = set()
    duplicates = 0
    for message in messages:
        message_id = message.payload.decode()
        if message_id in ids:
            duplicates += 1
            continue
        ids.add(message_id)
        _, camera, _, seq = message_id.split("/")
        seen[camera].append(int(seq))
    return seen, duplicates


class Cameras:
    """One thread publishing detections for 4 cameras at RATE each until stopped; counts what it produced."""

    def __init__(self, publisher) -> None:
        self.publisher = publisher
        self.produced = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Cameras":
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.produced

    def _run(self) -> None:
        topics = {camera: detections_topic("jetsentry", "dev1", camera) for camera in CAMERAS}
        while not self._stop.wait(1.0 / RATE):
            for camera in CAMERAS:
                self.publisher.publish(topics[camera], _message_id(camera, self.produced).encode())
            self.produced += 1


def _waiting_subscriber(broker) -> Subscriber:
    subscriber = Subscriber(broker, "jetsentry/dev1/+/detections", persistent=True).start()
    broker.save()
    return subscriber


def test_broker_away_for_tens_of_seconds_every_message_id_arrives_in_camera_order(
        tmp_path, mosquitto_factory, publishers):
    broker = mosquitto_factory(persistence=True)
    subscriber = _waiting_subscriber(broker)
    outbox = DiskOutbox(tmp_path, max_bytes=1 << 30, max_messages=1_000_000)
    publisher = publishers(broker.port, outbox=outbox)
    wait_until(lambda: publisher.connected, 5, "connection")
    with Cameras(publisher) as cameras:
        subscriber.wait_for(lambda ms: len(ms) >= 20, 10, "the stream to start")
        broker.stop()
        time.sleep(OUTAGE_S)  # the outage; cameras go on publishing into the disk outbox
        during = cameras.produced
        assert not publisher.connected and publisher.queued > 0
        broker.start()
        wait_until(lambda: cameras.produced >= during + 2 * RATE, 30, "live messages after the outage")
        produced = cameras.stop()
    try:
        received = subscriber.wait_for(
            lambda ms: sum(map(len, _first_arrivals(ms)[0].values())) == produced * len(CAMERAS), 60,
            f"all {produced * len(CAMERAS)} message ids")
    finally:
        subscriber.stop()
    arrivals, duplicates = _first_arrivals(received)
    assert arrivals == {camera: list(range(produced)) for camera in CAMERAS}  # all of them, in camera order
    logging.getLogger(__name__).info("%d messages, %d during the outage, %d duplicates", produced * 4,
                                     during * 4, duplicates)
    wait_until(lambda: publisher.queued == 0, 10, "the outbox to empty")
    stats = publisher.stats()
    assert (stats.dropped_quota, stats.dropped_overflow, stats.outbox_bytes) == (0, 0, 0)


def test_quota_drops_the_oldest_detections_keeps_health_and_shows_in_metrics(
        tmp_path, mosquitto_factory, publishers, caplog):
    caplog.set_level(logging.WARNING, logger="jetsentry.publish")
    broker = mosquitto_factory(persistence=True)
    subscriber = Subscriber(broker, ["jetsentry/dev1/+/detections", "jetsentry/dev1/health"],
                            persistent=True).start()
    broker.save()
    broker.stop()
    publisher = publishers(broker.port, outbox=DiskOutbox(tmp_path, max_bytes=1 << 30, max_messages=10))
    topic = detections_topic("jetsentry", "dev1", "cam1")
    publisher.publish(health_topic("jetsentry", "dev1"), b"health-0", qos=1, retain=True)
    for seq in range(25):
        publisher.publish(topic, f"dev1/cam1/{RUN}/{seq}".encode())
    publisher.publish(health_topic("jetsentry", "dev1"), b"health-1", qos=1, retain=True)  # drops one more
    stats = publisher.stats()
    assert (stats.dropped_quota, stats.queued, stats.dropped_overflow) == (17, 10, 0)
    warnings = [r.getMessage() for r in caplog.records if "quota" in r.getMessage()]
    assert len(warnings) == 1 and "dropped the 1 oldest detections" in warnings[0]  # rate-limited

    sources = DaemonSources(device_id="dev1", sessions={}, counters=None, publisher=publisher, health=None,
                            backend="b", model="m", precision="fp32", outbox_capacity=10, max_batch=1,
                            outbox_capacity_bytes=1 << 30)
    metrics = {m.name: m for m in DaemonCollector(sources, recorder=None)._mqtt(sources)}  # the MQTT part alone
    dropped = {s.labels["reason"]: s.value for s in metrics["jetsentry_mqtt_messages_dropped"].samples}
    assert dropped["quota"] == 17
    assert metrics["jetsentry_mqtt_outbox_bytes"].samples[0].value == stats.outbox_bytes > 0

    broker.start()
    try:
        received = subscriber.wait_for(lambda ms: len({m.payload for m in ms}) >= 10, 15, "the 10 kept messages")
    finally:
        subscriber.stop()
    payloads = list(dict.fromkeys(m.payload for m in received))
    assert payloads == [b"health-0"] + [f"dev1/cam1/{RUN}/{seq}".encode() for seq in range(17, 25)] + [b"health-1"]

