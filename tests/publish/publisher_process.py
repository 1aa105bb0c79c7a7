"""Runs an MqttPublisher until killed: python publisher_process.py HOST PORT DEVICE_ID (Last Will test)."""

from __future__ import annotations

import sys
import time

from jetsentry.config.models import MqttConfig
from jetsentry.publish import MqttPublisher

if __name__ == "__main__":
    host, port, device_id = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    publisher = MqttPublisher(MqttConfig(host=host, port=port, reconnect_min_s=0.05, reconnect_max_s=0.2), device_id)
    publisher.start()
    while True:  # the test ends this process with SIGKILL
        time.sleep(1)
