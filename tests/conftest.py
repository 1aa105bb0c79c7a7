"""Root fixtures: a real Mosquitto broker (see tests/support/broker.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.broker import Broker, MosquittoNotInstalled, find_mosquitto


@pytest.fixture
def mosquitto_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Broker]]:
    """make(users=None, persistence=False, start=True) -> Broker; every broker is killed at teardown."""
    try:
        find_mosquitto()
    except MosquittoNotInstalled as exc:
        pytest.fail(str(exc), pytrace=False)
    brokers: list[Broker] = []

    def make(*, users: dict[str, str] | None = None, persistence: bool = False, start: bool = True) -> Broker:
        broker = Broker(tmp_path_factory.mktemp("mosquitto"), users=users, persistence=persistence)
        brokers.append(broker)
        return broker.start() if start else broker

    yield make
    for broker in brokers:
        broker.kill()


@pytest.fixture
def mosquitto_broker(mosquitto_factory: Callable[..., Broker]) -> Broker:
    """A running anonymous broker on a free loopback port."""
    return mosquitto_factory()
