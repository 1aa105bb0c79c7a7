"""The shipped broker examples (config/mosquitto/), adapted only in their paths, on a real Mosquitto:
mutual TLS with the certificate's common name as user, and the per-device ACL."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from jetsentry.config.tls import TlsConfig, client_context
from jetsentry.publish import detections_topic
from tests.pipeline.daemon_process import DaemonProcess, daemon_config
from tests.publish.messages import sample_message
from tests.support.broker import Broker, Subscriber, wait_until
from tests.support.certs import CertificateAuthority, Issued

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "mosquitto"


@pytest.fixture(scope="module")
def ca(tmp_path_factory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("fleet-pki"))


@pytest.fixture
def fleet_broker(tmp_path, ca):
    """mosquitto-mtls.conf.example and acl.example with this test's port and files."""
    server = ca.issue("broker", server=True)
    acl = tmp_path / "acl"
    acl.write_text((EXAMPLES / "acl.example").read_text())
    conf = (EXAMPLES / "mosquitto-mtls.conf.example").read_text()
    for shipped, here in (("listener 8883", "listener {port} 127.0.0.1"),
                          ("/etc/mosquitto/certs/fleet-ca.crt", str(ca.cert_file)),
                          ("/etc/mosquitto/certs/broker.crt", str(server.cert_file)),
                          ("/etc/mosquitto/certs/broker.key", str(server.key_file)),
                          ("/etc/mosquitto/acl", str(acl))):
        assert shipped in conf
        conf = conf.replace(shipped, here)
    # Denied publishes are logged at debug level; the test reads them.
    broker = Broker(tmp_path / "broker", config_text=conf + "\nlog_type all\n").start()
    yield broker
    broker.stop()


def _context(ca: CertificateAuthority, client: Issued):
    return client_context(TlsConfig(ca_file=ca.cert_file, cert_file=client.cert_file, key_file=client.key_file))


def _tls_fields(ca: CertificateAuthority, client: Issued) -> dict:
    return {"ca_file": str(ca.cert_file), "cert_file": str(client.cert_file), "key_file": str(client.key_file)}


class V5Client:
    """An MQTT 5 client that records the PUBACK reason code of each publish."""

    def __init__(self, broker: Broker, context, client_id: str):
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
        self._client.tls_set_context(context)
        self._acks: dict[int, paho.ReasonCode] = {}
        self._changed = threading.Condition()
        self._client.on_publish = self._on_publish
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()

    def _on_publish(self, _client, _userdata, mid, reason, _properties) -> None:
        with self._changed:
            self._acks[mid] = reason
            self._changed.notify_all()

    def publish(self, topic: str, payload: bytes) -> paho.ReasonCode:
        mid = self._client.publish(topic, payload, qos=1).mid
        with self._changed:
            if not self._changed.wait_for(lambda: mid in self._acks, 10):
                raise AssertionError(f"no PUBACK for {topic}")
            return self._acks[mid]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def test_own_topics_work_and_another_devices_topic_is_refused(fleet_broker, ca, publishers):
    dev1 = publishers(fleet_broker.port, tls=_tls_fields(ca, ca.issue("dev1")))
    consumer = Subscriber(fleet_broker, ["jetsentry/+/+/detections", "jetsentry/+/status"],
                          tls=_context(ca, ca.issue("fleet-consumer"))).start()
    rogue = V5Client(fleet_broker, _context(ca, ca.issue("dev2")), "jetsentry-dev2")
    try:
        consumer.wait_for(lambda ms: any(m.topic == "jetsentry/dev1/status" for m in ms), 10, "dev1 online")
        dev1.publish(detections_topic("jetsentry", "dev1", "cam1"), sample_message("cam1", 0))
        consumer.wait_for(lambda ms: any(m.topic.endswith("/detections") for m in ms), 10, "dev1's detections")

        refused = rogue.publish("jetsentry/dev1/cam1/detections", b'{"forged": true}')
        assert refused.value == 135 and refused.getName() == "Not authorized"
        own = rogue.publish("jetsentry/dev2/cam1/detections", sample_message("cam1", 0))
        assert not own.is_failure  # the same client may publish under its own device id

        dev1.publish(detections_topic("jetsentry", "dev1", "cam1"), sample_message("cam1", 1))
        received = consumer.wait_for(
            lambda ms: sum(m.topic == "jetsentry/dev1/cam1/detections" for m in ms) >= 2, 10, "dev1's second")
    finally:
        rogue.close()
        consumer.stop()
    dev1_payloads = [json.loads(m.payload) for m in received if m.topic == "jetsentry/dev1/cam1/detections"]
    assert [p["seq"] for p in dev1_payloads] == [0, 1]  # the forged message never reached the consumer
    assert "Denied PUBLISH from jetsentry-dev2" in fleet_broker.log_tail(400)


def test_a_device_cannot_read_another_devices_commands(fleet_broker, ca):
    operator = V5Client(fleet_broker, _context(ca, ca.issue("fleet-operator")), "operator")
    with Subscriber(fleet_broker, "jetsentry/dev1/commands", tls=_context(ca, ca.issue("dev2"))).start() as spy, \
            Subscriber(fleet_broker, "jetsentry/dev1/commands", tls=_context(ca, ca.issue("dev1"))).start() as own:
        try:
            assert not operator.publish("jetsentry/dev1/commands", b'{"id": "1", "type": "status"}').is_failure
            own.wait_for(lambda ms: len(ms) == 1, 10, "dev1's command")
        finally:
            operator.close()
        assert spy.messages == []


def test_the_daemon_publishes_only_under_its_own_prefix(fleet_broker, ca, tmp_path):
    """`jetsentry run` with mutual TLS under the shipped ACL: its status, health and detections
    arrive, and the broker denied it nothing."""
    config = daemon_config(tmp_path / "daemon.yaml", port=fleet_broker.port, device_id="dev1",
                           cameras=[{"id": "cam1", "source": "test://ball", "fps_cap": 5}],
                           mqtt={"tls": _tls_fields(ca, ca.issue("dev1"))}, health={"interval_s": 1})
    with Subscriber(fleet_broker, ["jetsentry/+/+/detections", "jetsentry/+/status", "jetsentry/+/health"],
                    tls=_context(ca, ca.issue("fleet-consumer"))).start() as consumer:
        daemon = DaemonProcess(config).start()
        try:
            consumer.wait_for(lambda ms: {m.topic for m in ms} >= {"jetsentry/dev1/status", "jetsentry/dev1/health",
                                                                   "jetsentry/dev1/cam1/detections"}, 60,
                              "the daemon's status, health and detections")
        finally:
            rc = daemon.terminate()
    assert rc == 0, daemon.log[-3000:]
    log = fleet_broker.log_tail(100_000)
    assert re.search(r"Received PUBLISH from jetsentry-dev1 .*'jetsentry/dev1/cam1/detections'", log)
    assert "Denied PUBLISH from jetsentry-dev1" not in log
    assert all(m.topic.startswith("jetsentry/dev1/") for m in consumer.messages)


def test_publisher_refuses_topics_outside_its_branch(mosquitto_broker, publishers):
    publisher = publishers(mosquitto_broker.port, device_id="dev1")
    for topic in ("jetsentry/dev2/cam1/detections", "jetsentry/dev10/status", "other/dev1/status", "jetsentry/dev1"):
        with pytest.raises(ValueError, match="publishes only under 'jetsentry/dev1/'"):
            publisher.publish(topic, b"x")
    assert publisher.queued == 0


def test_fleet_consumer_reads_through_a_shared_subscription_under_the_acl(fleet_broker, ca, publishers, tmp_path):
    from tests.consume.test_consume import ConsumerProcess

    dev1 = publishers(fleet_broker.port, tls=_tls_fields(ca, ca.issue("dev1")))
    fleet = ca.issue("fleet-consumer")
    consumer = ConsumerProcess(fleet_broker, tmp_path / "out.jsonl", "fleet-consumer-1", "--group", "fleet",
                               "--ca-file", str(ca.cert_file), "--cert-file", str(fleet.cert_file),
                               "--key-file", str(fleet.key_file)).wait_subscribed()
    for seq in range(3):
        dev1.publish(detections_topic("jetsentry", "dev1", "cam1"), sample_message("cam1", seq))
    wait_until(lambda: len(consumer.lines()) >= 3, 20, "dev1's messages through $share")
    assert consumer.stop() == 0
    assert [line["seq"] for line in consumer.lines()] == [0, 1, 2]


@pytest.mark.parametrize(("client", "expected"), [
    (None, "refused: the broker requires a client certificate"),
    ("other-ca", "refused: the broker does not trust the CA that signed mqtt.tls.cert_file"),
])
def test_consumer_refused_by_the_broker_exits_1_naming_why(fleet_broker, ca, tmp_path, client, expected):
    from tests.consume.test_consume import ConsumerProcess

    args = ["--ca-file", str(ca.cert_file)]
    if client == "other-ca":
        other = CertificateAuthority(tmp_path / "other", name="other CA").issue("fleet-consumer")
        args += ["--cert-file", str(other.cert_file), "--key-file", str(other.key_file)]
    consumer = ConsumerProcess(fleet_broker, tmp_path / "out.jsonl", "refused-consumer", *args)
    assert consumer.wait(30) == 1
    assert expected in consumer.stderr and "Traceback" not in consumer.stderr, consumer.stderr
