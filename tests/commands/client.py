"""Sending commands to a daemon through a real broker and waiting for their replies."""

from __future__ import annotations

import json

import paho.mqtt.publish as paho_publish

from tests.support.broker import Broker, Subscriber


class CommandClient:
    """Publishes to `{prefix}/{device}/commands`; replies are read by `subscriber`, which
    must subscribe to `{prefix}/{device}/#`."""

    def __init__(self, broker: Broker, subscriber: Subscriber, device: str = "testdev", prefix: str = "jetsentry"):
        self.broker = broker
        self.subscriber = subscriber
        self.topic = f"{prefix}/{device}/commands"
        self.result_topic = f"{prefix}/{device}/commands/result"

    def send_raw(self, payload: bytes) -> None:
        paho_publish.single(self.topic, payload, qos=1, hostname=self.broker.host, port=self.broker.port)

    def replies(self) -> list[dict]:
        return [json.loads(m.payload) for m in self.subscriber.on_topic(self.result_topic)]

    def send(self, command: dict, timeout: float = 30.0) -> dict:
        """The command's reply (the newest with its id)."""
        before = sum(1 for r in self.replies() if r["id"] == command["id"])
        self.send_raw(json.dumps(command).encode())
        return self.wait_reply(command["id"], before, timeout)

    def wait_reply(self, command_id: str | None, before: int, timeout: float = 30.0) -> dict:
        def arrived(messages) -> bool:
            return sum(1 for m in messages if m.topic == self.result_topic
                       and json.loads(m.payload)["id"] == command_id) > before

        self.subscriber.wait_for(arrived, timeout, f"the reply to command {command_id}")
        return [r for r in self.replies() if r["id"] == command_id][-1]

    def send_unreadable(self, payload: bytes, timeout: float = 30.0) -> dict:
        """A payload without a readable id: the newest reply with id null."""
        before = sum(1 for r in self.replies() if r["id"] is None)
        self.send_raw(payload)
        return self.wait_reply(None, before, timeout)
