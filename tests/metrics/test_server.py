"""The metrics server over real HTTP on real daemon objects (sessions, counters, publisher, health
reporter), with a health message carrying the governor part of issue 11 as it will."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest

from jetsentry.capture import CameraSession, LatestFrameSlot
from jetsentry.config.metrics import MetricsConfig
from jetsentry.config.models import CameraConfig, CaptureConfig, MqttConfig
from jetsentry.health import HealthReporter, HealthState, ServiceCounters
from jetsentry.metrics import DaemonSources, MetricsServer
from jetsentry.publish import MqttPublisher
from tests.metrics.scrape import scrape, status, value
from tests.support.broker import free_port

GOVERNOR = {
    "mode": "shedding", "backend": "onnxruntime-cuda", "since": "2026-12-01T20:00:00.000Z",
    "reason": "gpu 87.5 °C above 85 °C", "temperatures_c": {"gpu": 87.5, "cpu": 61.0},
    "gpu_load": 0.93, "gpu_memory_used_bytes": 1_500_000_000, "switches": 2, "shed_cameras": {"b": 5.0},
}


@pytest.fixture
def parts():
    sessions = {cid: CameraSession(CameraConfig(id=cid, source="test://ball"), CaptureConfig(), LatestFrameSlot())
                for cid in ("a", "b")}
    counters = ServiceCounters()
    publisher = MqttPublisher(MqttConfig(host="127.0.0.1", port=free_port()), "dev1")  # never started
    reporter = HealthReporter(sessions, counters, publisher, HealthState(), device_id="dev1", topic="jetsentry/dev1/health")
    reporter.check(force=True)  # builds the health message (it waits in the unstarted publisher's outbox)
    yield sessions, counters, publisher, reporter
    publisher.stop(timeout=0.1)


def _server(parts, listen: str) -> MetricsServer:
    sessions, counters, publisher, reporter = parts
    sources = DaemonSources(device_id="dev1", sessions=sessions, counters=counters, publisher=publisher,
                            health=reporter, backend="onnxruntime-cpu", model="m", precision="fp32",
                            outbox_capacity=100, max_batch=4)
    return MetricsServer(MetricsConfig(listen=listen), sources)


def test_without_governor_the_configured_backend_and_no_governor_metrics(parts):
    server = _server(parts, f"127.0.0.1:{free_port()}")
    assert server.start()
    try:
        families = scrape(server.address)
        assert value(families, "jetsentry_backend_info", backend="onnxruntime-cpu") == 1
        for name in ("jetsentry_temperature_celsius", "jetsentry_governor_mode", "jetsentry_backend_switches",
                     "jetsentry_gpu_utilization_ratio"):
            assert name not in families
        assert value(families, "jetsentry_camera_state", camera="a", jetsentry_camera_state="idle") == 1
        assert value(families, "jetsentry_mqtt_outbox_messages") == 1  # the health message, unsent
        assert value(families, "jetsentry_mqtt_outbox_capacity_messages") == 100
        assert status(server.address)["governor"] is None
    finally:
        server.stop()


def test_governor_part_of_the_health_message_becomes_metrics_and_status(parts):
    reporter = parts[3]
    reporter.latest = {**reporter.latest, "governor": GOVERNOR}
    server = _server(parts, f"127.0.0.1:{free_port()}")
    assert server.start()
    try:
        families = scrape(server.address)
        assert value(families, "jetsentry_backend_info", backend="onnxruntime-cuda") == 1
        assert value(families, "jetsentry_backend_switches", "jetsentry_backend_switches_total") == 2
        assert value(families, "jetsentry_temperature_celsius", sensor="gpu") == 87.5
        assert value(families, "jetsentry_temperature_celsius", sensor="cpu") == 61.0
        assert value(families, "jetsentry_gpu_utilization_ratio") == 0.93
        assert value(families, "jetsentry_gpu_memory_used_bytes") == 1.5e9
        assert value(families, "jetsentry_governor_mode", jetsentry_governor_mode="shedding") == 1
        assert value(families, "jetsentry_governor_mode", jetsentry_governor_mode="normal") == 0
        assert value(families, "jetsentry_camera_shed_fps", camera="b") == 5.0
        document = status(server.address)
        assert document["backend"] == "onnxruntime-cuda"
        assert document["governor"]["temperatures_c"] == {"gpu": 87.5, "cpu": 61.0}
        assert document["governor"]["mode"] == "shedding"
    finally:
        server.stop()


def test_wrongly_typed_governor_fields_are_left_out_not_a_failed_scrape(parts):
    reporter = parts[3]
    reporter.latest = {**reporter.latest, "governor": {
        "mode": "warp", "backend": 3, "temperatures_c": {"gpu": "hot", "soc": 50}, "gpu_load": None,
        "gpu_memory_used_bytes": -1, "switches": True, "shed_cameras": []}}
    server = _server(parts, f"127.0.0.1:{free_port()}")
    assert server.start()
    try:
        families = scrape(server.address)
        assert value(families, "jetsentry_backend_info", backend="onnxruntime-cpu") == 1
        assert families["jetsentry_temperature_celsius"] == {
            ("jetsentry_temperature_celsius", (("sensor", "soc"),)): 50.0}
        for name in ("jetsentry_governor_mode", "jetsentry_backend_switches", "jetsentry_gpu_utilization_ratio",
                     "jetsentry_gpu_memory_used_bytes"):
            assert name not in families
    finally:
        server.stop()


def test_a_taken_port_is_one_error_naming_the_address_and_no_server(parts, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = _server(parts, f"127.0.0.1:{port}")
        assert server.start() is False
        assert server.address is None
        errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1 and f"cannot listen on 127.0.0.1:{port} (metrics.listen)" in errors[0]
        assert "Traceback" not in caplog.text
        server.stop()  # nothing to stop: no error


def test_ipv6_loopback_and_unknown_paths(parts):
    port = free_port()
    server = _server(parts, f"[::1]:{port}")
    try:
        started = server.start()
    except OSError:  # pragma: no cover
        pytest.skip("no IPv6 loopback here")
    if not started:
        pytest.skip("no IPv6 loopback here")
    try:
        with urllib.request.urlopen(f"http://[::1]:{port}/metrics", timeout=10) as reply:
            assert reply.headers["Content-Type"].startswith("text/plain")
            assert b"jetsentry_build_info" in reply.read()
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(f"http://[::1]:{port}/nothing", timeout=10)
        assert raised.value.code == 404
    finally:
        server.stop()


def test_the_status_command_asks_for_what_the_server_serves():
    # status_cli keeps its own copies so that it does not import prometheus_client.
    from jetsentry import status_cli
    from jetsentry.metrics import server, status

    assert status_cli.STATUS_PATH == server.STATUS_PATH
    assert status_cli.STATUS_SCHEMA == status.STATUS_SCHEMA


def test_openmetrics_when_the_scraper_asks_for_it(parts):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    server = _server(parts, f"127.0.0.1:{free_port()}")
    assert server.start()
    try:
        host, port = server.address
        request = urllib.request.Request(f"http://{host}:{port}/metrics",
                                         headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert reply.headers["Content-Type"].startswith("application/openmetrics-text")
            text = reply.read().decode()
        types = {family.name: family.type for family in text_string_to_metric_families(text)}
        assert types["jetsentry_camera_state"] == "stateset" and types["jetsentry_build"] == "info"
        assert types["jetsentry_frame_latency_seconds"] == "histogram"
        assert types["jetsentry_camera_frames_processed"] == "counter"
    finally:
        server.stop()


def test_a_failing_source_is_a_500_and_the_server_serves_on(parts, caplog):
    sessions, counters, _, reporter = parts
    sources = DaemonSources(device_id="dev1", sessions=sessions, counters=counters, publisher=None,  # no stats()
                            health=reporter, backend="onnxruntime-cpu", model="m", precision="fp32",
                            outbox_capacity=100, max_batch=4)
    server = MetricsServer(MetricsConfig(listen=f"127.0.0.1:{free_port()}"), sources)
    assert server.start()
    try:
        host, port = server.address
        for path in ("/metrics", "/status.json"):
            with pytest.raises(urllib.error.HTTPError) as raised:
                urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=10)
            assert raised.value.code == 500
        assert "metrics: /metrics failed" in caplog.text and "metrics: /status.json failed" in caplog.text
        with urllib.request.urlopen(f"http://{host}:{port}/", timeout=10) as reply:
            assert b"/metrics" in reply.read()
    finally:
        server.stop()
