"""Root fixtures: a real Mosquitto broker and a real RTSP server (see tests/support/)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.broker import Broker, MosquittoNotInstalled, find_mosquitto
from tests.support.rtsp_server import RtspServerProcess


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


@pytest.fixture
def rtsp_server() -> Iterator[RtspServerProcess]:
    """A live 320x240 15 fps H.264 RTSP server; kill()/start() restart it on the same port."""
    server = RtspServerProcess("--fps", "15")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ultralytics_families(request: pytest.FixtureRequest) -> dict:
    """{family: ONNX export} for YOLOv8, YOLO11, YOLO26 and YOLOv10, with and without NMS-free or
    in-graph NMS heads (tests/support/ultralytics_models.py), cached across test runs."""
    from tests.support.ultralytics_models import exported_families, ultralytics_version

    if ultralytics_version() is None:
        pytest.skip("needs Ultralytics (the reference extra) to build the test models")
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    folder = cache.mkdir("jetsentry-ultralytics-models") if cache is not None else \
        request.getfixturevalue("tmp_path_factory").mktemp("ultralytics-models")
    return exported_families(Path(folder))
