"""Publishers under test, with small reconnect bounds so outage tests stay fast."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest

from jetsentry.config.models import MqttConfig
from jetsentry.publish import MqttPublisher


@pytest.fixture
def publishers() -> Iterator[Callable[..., MqttPublisher]]:
    """make(port, device_id="dev1", on_connection_change=None, outbox=None, **mqtt_fields) -> a started publisher
    (outbox None: the memory outbox of mqtt.queue_max)."""
    made: list[MqttPublisher] = []

    def make(port: int, device_id: str = "dev1", *, on_connection_change=None, outbox=None, **fields) -> MqttPublisher:
        fields = {"host": "127.0.0.1", "reconnect_min_s": 0.05, "reconnect_max_s": 0.2, "keepalive_s": 5} | fields
        publisher = MqttPublisher(MqttConfig(port=port, **fields), device_id,
                                  on_connection_change=on_connection_change, rng=random.Random(len(made)), outbox=outbox)
        made.append(publisher)
        publisher.start()
        return publisher

    yield make
    for publisher in made:
        publisher.stop(timeout=1.0)
