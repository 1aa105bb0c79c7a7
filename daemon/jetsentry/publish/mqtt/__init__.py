"""The MQTT publisher (paho-mqtt 2.x): its caller side and network thread (publisher.py), one
connection attempt's client and bookkeeping (link.py), paho's callbacks (callbacks.py), and
its counters and drop warnings (counters.py)."""

from jetsentry.publish.mqtt.counters import PublisherStats
from jetsentry.publish.mqtt.link import MAX_PAYLOAD_BYTES, SEND_WINDOW, STATUS_OFFLINE, STATUS_ONLINE
from jetsentry.publish.mqtt.publisher import MessageHandler, MqttPublisher

__all__ = ["MAX_PAYLOAD_BYTES", "SEND_WINDOW", "STATUS_OFFLINE", "STATUS_ONLINE", "MessageHandler", "MqttPublisher",
           "PublisherStats"]
