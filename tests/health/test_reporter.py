"""Health reports through a real publisher and Mosquitto: retained, valid, published on each change."""

from __future__ import annotations

import json

import pytest

from jetsentry.capture import CameraSession, LatestFrameSlot
from jetsentry.config.models import CameraConfig, CaptureConfig, MqttConfig
from jetsentry.health import HealthReporter, HealthState, ServiceCounters
from jetsentry.publish import MqttPublisher, health_topic
from jetsentry.publish.schema import schema_is_current
from tests.health.test_state import Clock
from tests.publish.messages import HEALTH_SCHEMA_PATH, schema_validator
from tests.support.broker import Subscriber, wait_until

TOPIC = health_topic("jetsentry", "dev1")


def test_committed_health_schema_is_generated_from_the_models():
    assert schema_is_current(HEALTH_SCHEMA_PATH, "health"), (
        f"{HEALTH_SCHEMA_PATH} is out of date; regenerate it: "
        "python -m jetsentry.publish.schema health > config/health.schema.json"
    )


def _health_messages(sub: Subscriber) -> list[dict]:
    return [json.loads(m.payload) for m in sub.on_topic(TOPIC)]


@pytest.fixture
def publisher(mosquitto_broker):
    publisher = MqttPublisher(MqttConfig(host=mosquitto_broker.host, port=mosquitto_broker.port), "dev1")
    publisher.start()
    wait_until(lambda: publisher.connected, 10, "the publisher to connect")
    yield publisher
    publisher.stop(timeout=2.0)


def test_changes_are_published_at_once_retained_and_valid(mosquitto_broker, publisher):
    clock = Clock(0.0)
    cameras = {cid: CameraSession(CameraConfig(id=cid, source="test://ball"), CaptureConfig(), LatestFrameSlot())
               for cid in ("a", "b")}
    counters = ServiceCounters()
    reporter = HealthReporter(cameras, counters, publisher, HealthState(failing_after_batches=3, clock=clock),
                              device_id="dev1", topic=TOPIC, interval_s=30.0, clock=clock)
    validator = schema_validator(HEALTH_SCHEMA_PATH)
    with Subscriber(mosquitto_broker, TOPIC) as sub:
        sub.start()
        assert reporter.check(force=True) is None  # first report: ok
        sub.wait_for(lambda ms: len(ms) >= 1, 10, "the first health message")

        for _ in range(3):
            counters.batch_failed("RuntimeError: engine lost")
        assert reporter.check() is None  # within the assessment interval: nothing read yet
        clock.now += 1.0
        change = reporter.check()
        assert change is not None and change.state.value == "failing"
        sub.wait_for(lambda ms: len(ms) >= 2, 10, "the failing health message")

        counters.batch_done(frames=4, messages=4)
        clock.now += 1.0
        assert reporter.check().state.value == "ok"
        sub.wait_for(lambda ms: len(ms) >= 3, 10, "the recovered health message")

        clock.now += 1.0
        assert reporter.check() is None  # nothing changed, interval not up: nothing published
        clock.now += 30.0
        reporter.check()  # the interval is up: published again
        messages = sub.wait_for(lambda ms: len(ms) >= 4, 10, "the periodic health message")

    health = _health_messages(sub)
    for message in health:
        validator.validate(message)
    assert [m["state"] for m in health] == ["ok", "failing", "ok", "ok"]
    assert health[1]["reasons"] == ["inference: 3 batch(es) failed in a row; last: RuntimeError: engine lost"]
    assert health[1]["inference"]["consecutive_batch_errors"] == 3 and health[1]["inference"]["batch_errors"] == 3
    assert (health[2]["inference"]["consecutive_batch_errors"], health[2]["inference"]["frames"]) == (0, 4)
    assert set(health[0]["cameras"]) == {"a", "b"} and health[0]["cameras"]["a"]["state"] == "idle"
    assert health[0]["device_id"] == "dev1" and health[1]["since"] != health[0]["since"]
    assert all(m.retain is False for m in messages)  # live delivery; the retained copy is checked below

    # A subscriber arriving later gets the latest state at once.
    with Subscriber(mosquitto_broker, TOPIC) as late:
        late.start()
        (retained,) = late.wait_for(lambda ms: len(ms) >= 1, 10, "the retained health message")
    assert retained.retain and json.loads(retained.payload)["state"] == "ok"
