"""The consumer's MQTT 5 session: persistent (clean_start false, a session expiry), QoS 1,
manual acknowledgements, paho's own loop thread and reconnects.

The first connection must succeed: an unreachable broker, a TLS failure or a refusal then
ends the command (exit 1) with the cause named.  Later drops are reconnected by paho
with backoff, and the broker delivers what arrived meanwhile to the resumed session; a
refusal that retrying cannot fix (credentials, authorisation, a rejected subscription)
ends it too.
"""

from __future__ import annotations

import logging
import ssl
import time
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from jetsentry.consume.consumer import Consumer
from jetsentry.publish.tls_errors import describe_alert, describe_tls_error

log = logging.getLogger("jetsentry.consume")

# Longest sleep of the main thread between checks for a stop signal or a fatal error.
POLL_S = 0.1
KEEPALIVE_S = 30
RECONNECT_MIN_S, RECONNECT_MAX_S = 0.5, 30.0
# CONNACK reason codes that retrying cannot fix.
FATAL_CONNACK = {"Not authorized", "Bad user name or password", "Banned", "Client identifier not valid",
                 "Bad authentication method", "Unsupported protocol version"}


class _State:
    def __init__(self) -> None:
        self.error: str | None = None
        self.socket_error: str | None = None
        self.connected_once = False


def run_session(consumer: Consumer, stop: Any, *, host: str, port: int, topic: str, client_id: str,
                session_expiry: int, tls: ssl.SSLContext | None, username: str | None,
                password: str | None) -> str | None:
    """Consume until a stop signal (None) or a fatal error (its description)."""
    state = _State()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
    client.enable_logger(logging.getLogger("jetsentry.consume.paho"))
    client.manual_ack_set(True)
    client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
    if tls is not None:
        client.tls_set_context(tls)
    if username:
        client.username_pw_set(username, password)
    where = f"{host}:{port}"

    def on_connect(client: paho.Client, _userdata: Any, flags: Any, reason: Any, _properties: Any) -> None:
        if reason.is_failure:
            if reason.getName() in FATAL_CONNACK:
                state.error = f"the broker {where} refused the connection: {reason}"
            else:
                log.warning("the broker %s refused the connection: %s; retrying", where, reason)
            return
        state.connected_once = True
        log.info("connected to %s as %s (session %s); subscribing to %s", where, client_id,
                 "resumed" if flags.session_present else "new", topic)
        client.subscribe(topic, options=SubscribeOptions(qos=1))

    def on_subscribe(_client: Any, _userdata: Any, _mid: int, reasons: list[Any], _properties: Any) -> None:
        if reasons and reasons[0].is_failure:
            state.error = f"the broker refused the subscription to {topic}: {reasons[0]}"
        else:
            log.info("subscribed to %s with QoS %d", topic, reasons[0].value if reasons else 1)

    def on_disconnect(_client: Any, _userdata: Any, _flags: Any, reason: Any, _properties: Any) -> None:
        refusal = describe_alert(state.socket_error or "")
        if refusal and not state.connected_once:
            state.error = f"TLS connection to {where} refused: {refusal}"
        elif not stop.is_set():
            log.warning("connection to %s lost: %s; reconnecting", where, reason)

    def on_log(_client: Any, _userdata: Any, level: int, text: str) -> None:
        if level == paho.MQTT_LOG_ERR:
            state.socket_error = text

    client.on_connect, client.on_subscribe, client.on_disconnect = on_connect, on_subscribe, on_disconnect
    client.on_message, client.on_log = consumer.on_message, on_log
    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = session_expiry
    try:
        client.connect(host, port, keepalive=KEEPALIVE_S, clean_start=False, properties=properties)
    except OSError as exc:
        return f"TLS connection to {where} failed: {describe_tls_error(exc)}" if describe_tls_error(exc) else (
            f"cannot reach the broker {where}: {exc.strerror or exc}")
    client.loop_start()
    try:
        return wait_until_stopped(consumer, stop, lambda: state.error)
    finally:
        client.disconnect()
        client.loop_stop()


def wait_until_stopped(consumer: Consumer, stop: Any, connection_error: Any) -> str | None:
    """Block until a stop signal, a fatal output error or a fatal connection error; the error or None."""
    while not stop.is_set():
        if consumer.fatal:
            return consumer.fatal
        error = connection_error()
        if error:
            return error
        time.sleep(POLL_S)
    return None
