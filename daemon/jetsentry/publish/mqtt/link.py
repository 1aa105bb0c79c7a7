"""One connection attempt: a fresh paho client, configured for the publisher, and what belongs
to that connection (the paho message ids in flight, the status messages, the socket error)."""

from __future__ import annotations

import logging

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from jetsentry.config.models import MqttConfig
from jetsentry.config.tls import client_context

STATUS_ONLINE = b"online"
STATUS_OFFLINE = b"offline"

# Messages handed to paho and not yet acknowledged.  The rest stay in the outbox, where
# overflow is counted; 64 keeps a LAN link busy without making resends after a drop large.
SEND_WINDOW = 64
# TCP connect timeout per attempt; also bounds how long stop() can wait on a connect.
CONNECT_TIMEOUT_S = 5.0
MAX_PAYLOAD_BYTES = 268_435_455  # paho's limit; checked here so a caller, not the network thread, gets the error

_PAHO_LOGGER = "jetsentry.publish.mqtt.paho"


class Link:
    """One connection attempt: a fresh paho client and what belongs to that connection."""

    def __init__(self, client: paho.Client):
        self.client = client
        self.connected = False  # CONNACK with a success reason code seen
        self.lost = False
        self.pending: dict[int, int] = {}  # paho mid -> outbox key
        self.early_acks: set[int] = set()  # QoS 0 mids acknowledged inside publish()
        self.control_mids: set[int] = set()  # status messages, not in the outbox
        self.offline_mid: int | None = None
        self.offline_acked = False
        self.socket_error: str | None = None  # paho's last error line (a TLS alert shows there)


def new_client(cfg: MqttConfig, client_id: str, status_topic: str) -> paho.Client:
    """A paho client for one attempt: clean session, the Last Will on the status topic, the
    credentials and TLS context of `cfg`.  TlsProblem when the TLS files are unusable."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
                         protocol=paho.MQTTv311)
    client.enable_logger(logging.getLogger(_PAHO_LOGGER))
    client.suppress_exceptions = True  # second line of defence behind the guarded callbacks
    client.connect_timeout = CONNECT_TIMEOUT_S
    client.max_inflight_messages_set(SEND_WINDOW + 2)  # + online/offline status: paho never queues
    client.max_queued_messages_set(0)
    client.will_set(status_topic, STATUS_OFFLINE, qos=1, retain=True)
    if cfg.username:
        client.username_pw_set(cfg.username, cfg.password.get_secret_value() if cfg.password else None)
    if cfg.tls is not None:
        # Built at every attempt: renewed certificate files are picked up, and expired ones named.
        client.tls_set_context(client_context(cfg.tls))
    return client
