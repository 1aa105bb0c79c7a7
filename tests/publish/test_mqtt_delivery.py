"""MqttPublisher against a real Mosquitto: topics, QoS, status and Last Will, credentials, callbacks."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from jetsentry.publish import detections_topic
from jetsentry.publish.mqtt import STATUS_OFFLINE, STATUS_ONLINE
from tests.publish.messages import sample_message, schema_validator
from tests.support.broker import Subscriber, wait_until

CAMERAS = ("cam1", "cam2")


def _retained_status(broker, topic: str) -> bytes:
    """What a client connecting now is told: the retained status."""
    with Subscriber(broker, topic).start() as late:
        [status] = late.wait_for(lambda ms: len(ms) >= 1, 5, f"retained message on {topic}")
    assert status.retain, "status must be retained"
    return status.payload


def test_detections_arrive_on_their_topics_with_qos1_and_validate(mosquitto_broker, publishers):
    publisher = publishers(mosquitto_broker.port, topic_prefix="site-a")
    with Subscriber(mosquitto_broker, "site-a/dev1/+/detections").start() as subscriber:
        for seq in range(5):
            for camera in CAMERAS:
                publisher.publish(detections_topic("site-a", "dev1", camera), sample_message(camera, seq))
        received = subscriber.wait_for(lambda ms: len(ms) >= 10, 10, "10 detections messages")

    validator = schema_validator()
    for message in received:
        body = json.loads(message.payload)
        validator.validate(body)
        assert message.topic == f"site-a/dev1/{body['camera_id']}/detections"
        assert message.qos == 1  # the subscription asked for 1, so this is what the publisher sent
    for camera in CAMERAS:
        seqs = [json.loads(m.payload)["seq"] for m in received if f"/{camera}/" in m.topic]
        assert seqs == [0, 1, 2, 3, 4]
    wait_until(lambda: publisher.sent == 10, 5, "10 acknowledged messages")
    stats = publisher.stats()
    assert (stats.connected, stats.queued, stats.dropped_overflow, stats.connects) == (True, 0, 0, 1)
    assert _retained_status(mosquitto_broker, "site-a/dev1/status") == STATUS_ONLINE


def test_clean_stop_leaves_retained_offline(mosquitto_broker, publishers):
    publisher = publishers(mosquitto_broker.port)
    with Subscriber(mosquitto_broker, publisher.status_topic).start() as watcher:
        watcher.wait_for(lambda ms: ms and ms[-1].payload == STATUS_ONLINE, 5, "online status")
        publisher.publish(detections_topic("jetsentry", "dev1", "cam1"), sample_message())
        publisher.stop(timeout=5.0)
        assert publisher.sent == 1  # flushed before going offline
        assert not publisher.connected
        watcher.wait_for(lambda ms: ms[-1].payload == STATUS_OFFLINE, 5, "offline status")
    assert _retained_status(mosquitto_broker, publisher.status_topic) == STATUS_OFFLINE
    with pytest.raises(RuntimeError, match="after stop"):
        publisher.publish("jetsentry/dev1/cam1/detections", b"late")


def test_last_will_marks_a_killed_publisher_offline(mosquitto_broker):
    script = Path(__file__).with_name("publisher_process.py")
    status_topic = "jetsentry/dev-killed/status"
    with Subscriber(mosquitto_broker, status_topic).start() as watcher:
        process = subprocess.Popen([sys.executable, str(script), mosquitto_broker.host, str(mosquitto_broker.port),
                                    "dev-killed"])
        try:
            watcher.wait_for(lambda ms: ms and ms[-1].payload == STATUS_ONLINE, 15, "online from the subprocess")
        finally:
            process.kill()  # SIGKILL: no clean DISCONNECT, so only the Last Will can say offline
            process.wait()
        watcher.wait_for(lambda ms: ms[-1].payload == STATUS_OFFLINE, 10, "offline via the Last Will")
    assert _retained_status(mosquitto_broker, status_topic) == STATUS_OFFLINE


def test_bad_credentials_are_refused_logged_and_retried(mosquitto_factory, publishers, caplog):
    caplog.set_level(logging.DEBUG, logger="jetsentry.publish")
    broker = mosquitto_factory(users={"edge": "right-password"})
    publisher = publishers(broker.port, username="edge", password="wrong-password")
    publisher.publish("jetsentry/dev1/cam1/detections", b"kept while refused")
    wait_until(lambda: publisher.reconnects >= 3, 10, "three retries after refusals")

    stats = publisher.stats()
    assert (stats.connected, stats.connects, stats.queued) == (False, 0, 1)
    refusals = [r.getMessage() for r in caplog.records if "refused the connection" in r.getMessage()]
    assert len(refusals) >= 3
    assert "as user 'edge'" in refusals[0] and "Not authorized" in refusals[0]
    assert "wrong-password" not in caplog.text

    # Control: the same broker accepts the right password, so the refusal was about credentials.
    good = publishers(broker.port, "dev2", username="edge", password="right-password")
    wait_until(lambda: good.connected, 5, "connection with the right password")


def test_exception_in_user_callback_does_not_kill_the_client(mosquitto_broker, publishers, caplog):
    calls: list[bool] = []

    def explode(connected: bool) -> None:
        calls.append(connected)
        raise RuntimeError("callback bug")

    topic = "jetsentry/dev1/cam1/detections"
    publisher = publishers(mosquitto_broker.port, on_connection_change=explode)
    wait_until(lambda: publisher.connected, 5, "first connection")
    mosquitto_broker.kill()
    wait_until(lambda: calls == [True, False], 5, "the disconnect callback")
    mosquitto_broker.start()
    with Subscriber(mosquitto_broker, topic).start() as subscriber:
        publisher.publish(topic, b"after two callback exceptions")
        subscriber.wait_for(lambda ms: len(ms) == 1, 10, "delivery after reconnecting")
    assert calls[:3] == [True, False, True]
    assert caplog.text.count("on_connection_change callback raised") >= 3
