"""paho's callbacks of the publisher, run on its network thread, each guarded so one that raises
cannot end the client: connect (the online status, the subscriptions), disconnect, publish
acknowledgements, messages received on the subscribed topics, and paho's error lines."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho

from jetsentry.publish.mqtt.link import STATUS_ONLINE, Link
from jetsentry.publish.tls_errors import describe_alert

log = logging.getLogger("jetsentry.publish.mqtt")


def guarded(name: str, callback: Callable[..., Any]) -> Callable[..., None]:
    def call(*args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("MQTT: exception in %s callback; the client carries on", name)

    return call


class PahoCallbacks:
    """The callbacks' half of MqttPublisher (publisher.py holds the state they update)."""

    def _on_connect(self, link: Link, client: paho.Client, _userdata: Any, _flags: Any, reason: Any,
                    _properties: Any) -> None:
        if reason.is_failure:
            who = f" as user {self._cfg.username!r}" if self._cfg.username else ""
            log.warning("MQTT: broker %s:%d refused the connection%s: %s", self._cfg.host, self._cfg.port, who,
                        reason)
            return
        link.connected = True
        self._connected = True
        self._connects += 1
        self._backoff.reset()
        log.info("MQTT: connected to %s:%d as %s", self._cfg.host, self._cfg.port, self.client_id)
        link.control_mids.add(client.publish(self.status_topic, STATUS_ONLINE, qos=1, retain=True).mid)
        if self._subscriptions:  # a clean session: subscribed again at every connect
            client.subscribe([(topic, qos) for topic, (qos, _handler) in self._subscriptions.items()])
        self._notify(True)

    def _on_message(self, _client: paho.Client, _userdata: Any, message: Any) -> None:
        subscription = self._subscriptions.get(message.topic)
        if subscription is None:  # the broker sent what was not asked for: nothing to hand it to
            log.warning("MQTT: message on %s, a topic not subscribed to; ignored", message.topic)
            return
        handler = subscription[1]
        try:
            handler(message.topic, bytes(message.payload))
        except Exception:
            log.exception("MQTT: the handler of %s raised; the client carries on", message.topic)

    def _on_log(self, link: Link, _client: paho.Client, _userdata: Any, level: int, text: str) -> None:
        if level == paho.MQTT_LOG_ERR:
            link.socket_error = text

    def _on_disconnect(self, link: Link, _client: paho.Client, _userdata: Any, _flags: Any, reason: Any,
                       _properties: Any) -> None:
        link.lost = True
        if link.connected:
            self._set_disconnected(link, reason)
        elif link.socket_error and (refusal := describe_alert(link.socket_error)):
            log.error("MQTT: TLS connection to %s:%d refused before CONNACK: %s", self._cfg.host, self._cfg.port,
                      refusal)

    def _set_disconnected(self, link: Link, reason: Any) -> None:
        link.connected = False
        self._connected = False
        if self._stopping.is_set():
            log.info("MQTT: disconnected from %s:%d", self._cfg.host, self._cfg.port)
        else:
            log.warning("MQTT: connection to %s:%d lost: %s", self._cfg.host, self._cfg.port, reason)
        self._notify(False)

    def _on_publish(self, link: Link, _client: paho.Client, _userdata: Any, mid: int, _reason: Any,
                    _properties: Any) -> None:
        if mid == link.offline_mid:
            link.offline_acked = True
        elif mid in link.control_mids:
            link.control_mids.discard(mid)
        elif mid in link.pending:
            self._acked(link.pending.pop(mid))
        else:  # QoS 0 written inside client.publish(), before its mid was recorded
            link.early_acks.add(mid)

    def _notify(self, connected: bool) -> None:
        if self._on_connection_change is None:
            return
        try:
            self._on_connection_change(connected)
        except Exception:
            log.exception("MQTT: on_connection_change callback raised; the publisher carries on")
