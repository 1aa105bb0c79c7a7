"""MqttPublisher over TLS and mutual TLS to a real Mosquitto, with certificates made in the test."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest

from jetsentry.config.tls import TlsConfig, client_context
from jetsentry.publish import detections_topic
from tests.publish.messages import sample_message
from tests.support.broker import Broker, BrokerTls, Subscriber, wait_until
from tests.support.certs import CertificateAuthority, Issued

TOPIC = detections_topic("jetsentry", "dev1", "cam1")


@dataclass(frozen=True)
class Pki:
    ca: CertificateAuthority
    other_ca: CertificateAuthority
    server: Issued
    client: Issued  # CN dev1
    other_client: Issued  # CN dev1, signed by other_ca


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = CertificateAuthority(directory / "ca")
    other = CertificateAuthority(directory / "other", name="another CA")
    return Pki(ca, other, ca.issue("broker", server=True), ca.issue("dev1"), other.issue("dev1"))


def _tls_broker(tmp_path: Path, pki: Pki, *, server: Issued | None = None, mtls: bool = False) -> Broker:
    server = server or pki.server
    tls = BrokerTls(pki.ca.cert_file, server.cert_file, server.key_file, require_certificate=mtls)
    return Broker(tmp_path / "broker", tls=tls).start()


def _subscriber_context(pki: Pki, *, client: Issued | None = None) -> ssl.SSLContext:
    return client_context(TlsConfig(ca_file=pki.ca.cert_file, cert_file=client.cert_file if client else None,
                                    key_file=client.key_file if client else None))


@pytest.fixture
def tls_broker(tmp_path, pki):
    broker = _tls_broker(tmp_path, pki)
    yield broker
    broker.stop()


@pytest.fixture
def mtls_broker(tmp_path, pki):
    broker = _tls_broker(tmp_path, pki, mtls=True)
    yield broker
    broker.stop()


def _delivers(publisher, broker: Broker, context: ssl.SSLContext) -> None:
    with Subscriber(broker, "jetsentry/dev1/+/detections", tls=context).start() as subscriber:
        for seq in range(3):
            publisher.publish(TOPIC, sample_message("cam1", seq))
        subscriber.wait_for(lambda ms: len(ms) >= 3, 10, "3 messages over TLS")
    wait_until(lambda: publisher.sent == 3, 5, "3 acknowledged messages")


def _log_says(caplog, text: str, what: str) -> None:
    wait_until(lambda: any(text in r.getMessage() for r in caplog.records), 10, what)


def test_server_verified_with_the_ca_file(tls_broker, pki, publishers):
    publisher = publishers(tls_broker.port, tls={"ca_file": str(pki.ca.cert_file)})
    _delivers(publisher, tls_broker, _subscriber_context(pki))
    assert publisher.stats().connects == 1


def test_mutual_tls_connects_with_the_client_certificate(mtls_broker, pki, publishers):
    publisher = publishers(mtls_broker.port, tls={"ca_file": str(pki.ca.cert_file),
                                                  "cert_file": str(pki.client.cert_file),
                                                  "key_file": str(pki.client.key_file)})
    _delivers(publisher, mtls_broker, _subscriber_context(pki, client=pki.ca.issue("watcher")))


def test_files_from_systemd_credentials(mtls_broker, pki, publishers, monkeypatch):
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(pki.client.cert_file.parent))
    publisher = publishers(mtls_broker.port, tls={"ca_file": {"credential": pki.ca.cert_file.name},
                                                  "cert_file": {"credential": pki.client.cert_file.name},
                                                  "key_file": {"credential": pki.client.key_file.name}})
    wait_until(lambda: publisher.connected, 10, "a connection with credentials' files")


def test_client_without_certificate_is_refused(mtls_broker, pki, publishers, caplog):
    caplog.set_level(logging.ERROR, "jetsentry.publish.mqtt")
    publisher = publishers(mtls_broker.port, tls={"ca_file": str(pki.ca.cert_file)})
    _log_says(caplog, "requires a client certificate", "the refusal explained")
    assert publisher.stats().connects == 0
    # A plain client of the test's own is refused the same way: it is the broker that refuses.
    with pytest.raises(AssertionError, match="no SUBACK"):
        Subscriber(mtls_broker, "#", tls=_subscriber_context(pki)).start(timeout=2)


def test_client_certificate_from_another_ca_is_refused(mtls_broker, pki, publishers, caplog):
    caplog.set_level(logging.ERROR, "jetsentry.publish.mqtt")
    publisher = publishers(mtls_broker.port, tls={"ca_file": str(pki.ca.cert_file),
                                                  "cert_file": str(pki.other_client.cert_file),
                                                  "key_file": str(pki.other_client.key_file)})
    _log_says(caplog, "refused before CONNACK", "the refusal explained")
    assert publisher.stats().connects == 0


def test_unknown_ca_is_named(tls_broker, pki, publishers, caplog):
    caplog.set_level(logging.ERROR, "jetsentry.publish.mqtt")
    publisher = publishers(tls_broker.port, tls={"ca_file": str(pki.other_ca.cert_file)})
    _log_says(caplog, "not signed by a CA in mqtt.tls.ca_file (unknown CA)", "the unknown CA named")
    assert publisher.stats().connects == 0


def test_wrong_hostname_is_named_and_server_name_overrides_it(tmp_path, pki, publishers, caplog):
    caplog.set_level(logging.ERROR, "jetsentry.publish.mqtt")
    named = pki.ca.issue("broker-elsewhere", server=True, names=("broker.example",))
    broker = _tls_broker(tmp_path, pki, server=named)
    try:
        wrong = publishers(broker.port, tls={"ca_file": str(pki.ca.cert_file)})
        _log_says(caplog, "wrong hostname", "the hostname mismatch named")
        assert wrong.stats().connects == 0
        right = publishers(broker.port, device_id="dev2",
                           tls={"ca_file": str(pki.ca.cert_file), "server_name": "broker.example"})
        wait_until(lambda: right.connected, 10, "a connection checking broker.example")
    finally:
        broker.stop()


def test_expired_broker_certificate_is_named(tmp_path, pki, publishers, caplog):
    caplog.set_level(logging.ERROR, "jetsentry.publish.mqtt")
    broker = _tls_broker(tmp_path, pki, server=pki.ca.issue("broker", server=True, expired=True))
    try:
        publisher = publishers(broker.port, tls={"ca_file": str(pki.ca.cert_file)})
        _log_says(caplog, "the broker's certificate has expired", "the expired certificate named")
        assert publisher.stats().connects == 0
    finally:
        broker.stop()


def test_plain_client_on_a_tls_port_gets_no_connection(tls_broker, publishers):
    publisher = publishers(tls_broker.port)
    publisher.publish(TOPIC, sample_message())
    wait_until(lambda: publisher.reconnects >= 2, 10, "repeated attempts")
    assert publisher.stats().connects == 0 and publisher.queued == 1


def test_context_refuses_tls_older_than_1_2(pki):
    context = client_context(TlsConfig(ca_file=pki.ca.cert_file))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED


def test_certificate_expiring_while_running_is_named_at_the_next_attempt(tmp_path, pki, publishers, caplog):
    caplog.set_level(logging.ERROR, "jetsentry.publish.mqtt")
    cert_file, key_file = tmp_path / "dev1.crt", tmp_path / "dev1.key"
    cert_file.write_bytes(pki.client.cert_file.read_bytes())
    key_file.write_bytes(pki.client.key_file.read_bytes())
    publisher = publishers(1, tls={"ca_file": str(pki.ca.cert_file), "cert_file": str(cert_file),
                                   "key_file": str(key_file)})  # port 1: nothing listens, attempts repeat
    expired = pki.ca.issue("dev1", expired=True)
    key_file.write_bytes(expired.key_file.read_bytes())  # renewed files, as a rotation would leave them
    cert_file.write_bytes(expired.cert_file.read_bytes())
    _log_says(caplog, f"mqtt.tls.cert_file {cert_file}: the certificate 'CN=dev1' expired on",
              "the expiry named at connect")
    assert publisher.stats().connects == 0
