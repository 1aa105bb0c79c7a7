"""`jetsentry consume` as a real process against a real Mosquitto (MQTT 5 shared subscriptions)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.broker import Broker, wait_until


class ConsumerProcess:
    def __init__(self, broker: Broker, out: Path, client_id: str, *args: str):
        self.out = out
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jetsentry", "consume", "--host", broker.host, "--port", str(broker.port),
             "--client-id", client_id, "--out", str(out), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self._stderr: list[str] = []
        self._reader = threading.Thread(target=lambda: self._stderr.extend(self.proc.stderr), daemon=True)
        self._reader.start()

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def wait_subscribed(self) -> "ConsumerProcess":
        wait_until(lambda: "subscribed to" in self.stderr or self.proc.poll() is not None, 30, "a subscription")
        assert self.proc.poll() is None, self.stderr
        return self

    def lines(self) -> list[dict]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines()]

    def wait(self, timeout: float = 20) -> int:
        rc = self.proc.wait(timeout)
        self._reader.join(5)
        return rc

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.wait()


class Producer:
    """Publishes crafted detections bodies with QoS 1 and waits for every PUBACK."""

    def __init__(self, broker: Broker):
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id="producer", protocol=paho.MQTTv311)
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()

    def send(self, device: str, camera: str, run: int | None, seq: int, *, payload: bytes | None = None) -> None:
        body = {"device_id": device, "camera_id": camera, "seq": seq, "detections": []}
        if run is not None:
            body = {"message_id": f"{device}/{camera}/{run}/{seq}", "run": run, **body}
        info = self._client.publish(f"jetsentry/{device}/{camera}/detections",
                                    payload if payload is not None else json.dumps(body), qos=1)
        info.wait_for_publish(10)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@pytest.fixture
def producer(mosquitto_broker):
    made = Producer(mosquitto_broker)
    yield made
    made.close()


def _ids(lines: list[dict]) -> list[str]:
    return [line["message_id"] for line in lines]


def test_two_consumers_in_one_share_group_receive_every_message_once(mosquitto_broker, producer, tmp_path):
    first = ConsumerProcess(mosquitto_broker, tmp_path / "a.jsonl", "consumer-a", "--group", "fleet").wait_subscribed()
    second = ConsumerProcess(mosquitto_broker, tmp_path / "b.jsonl", "consumer-b", "--group", "fleet").wait_subscribed()
    expected = set()
    for seq in range(50):
        for device, camera in (("dev1", "cam1"), ("dev1", "cam2"), ("dev2", "cam1")):
            producer.send(device, camera, 3, seq)
            expected.add(f"{device}/{camera}/3/{seq}")
    wait_until(lambda: len(first.lines()) + len(second.lines()) >= len(expected), 30, "every message")
    assert (first.stop(), second.stop()) == (0, 0)
    a, b = _ids(first.lines()), _ids(second.lines())
    assert set(a) | set(b) == expected
    assert len(a) + len(b) == len(expected) and not set(a) & set(b)  # each message went to one member
    assert a and b  # Mosquitto shares round-robin
    for consumer in (first, second):
        assert "0 duplicates dropped" in consumer.stderr, consumer.stderr


def test_duplicates_are_dropped_and_counted_and_a_gap_is_reported(mosquitto_broker, producer, tmp_path):
    consumer = ConsumerProcess(mosquitto_broker, tmp_path / "out.jsonl", "consumer-solo").wait_subscribed()
    for seq in [*range(10), 3, 4, 5, *range(15, 20)]:  # 3-5 resent, 10-14 never sent
        producer.send("dev1", "cam1", 1, seq)
    producer.send("dev1", "cam1", 2, 0)  # the daemon restarted: a new run starts at 0, no gap
    wait_until(lambda: len(consumer.lines()) >= 16, 30, "16 distinct messages")
    producer.send("dev1", "cam1", 1, 19)  # a last duplicate, so the count below includes everything
    wait_until(lambda: "gap:" in consumer.stderr, 10, "the gap report")
    assert consumer.stop() == 0
    assert _ids(consumer.lines()) == [f"dev1/cam1/1/{s}" for s in [*range(10), *range(15, 20)]] + ["dev1/cam1/2/0"]
    assert "gap: dev1/cam1/1 seq 10-14 missing (5)" in consumer.stderr
    assert "16 messages written (0 late, 0 without message_id), 4 duplicates dropped, 1 gaps (5 missing)" \
        in consumer.stderr, consumer.stderr


def test_the_persistent_session_keeps_what_arrives_while_the_consumer_is_away(mosquitto_broker, producer, tmp_path):
    out = tmp_path / "out.jsonl"
    ConsumerProcess(mosquitto_broker, out, "consumer-p").wait_subscribed().stop()
    for seq in range(10):
        producer.send("dev1", "cam1", 1, seq)
    again = ConsumerProcess(mosquitto_broker, out, "consumer-p").wait_subscribed()
    wait_until(lambda: len(again.lines()) >= 10, 30, "the messages published while away")
    assert again.stop() == 0
    assert "(session resumed)" in again.stderr
    assert _ids(again.lines()) == [f"dev1/cam1/1/{s}" for s in range(10)]


def test_messages_without_message_id_and_malformed_ones(mosquitto_broker, producer, tmp_path):
    consumer = ConsumerProcess(mosquitto_broker, tmp_path / "out.jsonl", "consumer-old").wait_subscribed()
    producer.send("dev1", "cam1", None, 0, payload=b"{not json")
    for seq in (0, 1, 2, 0, 1):  # an older daemon restarted: its seq began again
        producer.send("dev1", "cam1", None, seq)
    wait_until(lambda: len(consumer.lines()) >= 5, 30, "5 messages without message_id")
    assert consumer.stop() == 0
    assert [line["seq"] for line in consumer.lines()] == [0, 1, 2, 0, 1]
    assert "restart: dev1/cam1 seq went back to 0" in consumer.stderr
    assert "5 messages written (0 late, 5 without message_id), 0 duplicates dropped, 0 gaps (0 missing), " \
           "1 malformed" in consumer.stderr


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--group", "a/b"], 2, "share group 'a/b' cannot be an MQTT topic level"),
    (["--prefix", "$SYS"], 2, "topic prefix '$SYS' must be non-empty"),
    (["--remember", "0"], 2, "--remember must be at least 1"),
    (["--ca-file", "/nonexistent/ca.crt"], 2, "error: --ca-file /nonexistent/ca.crt cannot be read"),
    (["--key-file", "/nonexistent/k"], 2, "error: --key-file is set without cert_file"),
    (["--password-file", "/nonexistent"], 2, "--password-file needs --username"),
])
def test_bad_arguments_exit_2_with_the_reason(tmp_path, args, code, message):
    result = subprocess.run([sys.executable, "-m", "jetsentry", "consume", "--out", str(tmp_path / "o"), *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == code and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_broker_exits_1_naming_it(tmp_path):
    result = subprocess.run([sys.executable, "-m", "jetsentry", "consume", "--port", "1", "--out",
                             str(tmp_path / "o")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "error: cannot reach the broker localhost:1: Connection refused" in result.stderr
