"""The MQTT publisher's heartbeat: beaten by its network thread, connected or backing off."""

from __future__ import annotations

import time

from jetsentry.health.heartbeat import WAIT_SLICE_S, Heartbeats
from tests.support.broker import free_port, wait_until


def test_publisher_beats_while_connected_and_while_the_broker_is_away(mosquitto_broker, publishers):
    publisher = publishers(mosquitto_broker.port)
    heartbeats = Heartbeats()
    heartbeats.add(publisher.heartbeat, WAIT_SLICE_S + 1.5)
    wait_until(lambda: publisher.connected, 10, "connected")
    assert publisher.heartbeat.active
    mosquitto_broker.kill()
    wait_until(lambda: not publisher.connected, 10, "the lost connection noticed")
    end, stale = time.monotonic() + 3.0, []
    while time.monotonic() < end:
        stale += heartbeats.stale_stages()
        time.sleep(0.05)
    assert stale == []
    publisher.stop(timeout=0.5)
    assert not publisher.heartbeat.active  # its thread has ended: no longer required


def test_a_long_reconnect_backoff_is_slept_in_beating_slices(publishers):
    publisher = publishers(free_port(), reconnect_min_s=5.0, reconnect_max_s=5.0)
    wait_until(lambda: publisher.retry_delays, 10, "a first backoff")
    heartbeats = Heartbeats()
    heartbeats.add(publisher.heartbeat, WAIT_SLICE_S + 1.5)
    assert publisher.retry_delays[0].delay_s > 4  # random.Random(0) draws 0.84 of the 5 s ceiling
    end, stale = time.monotonic() + 3.0, []
    while time.monotonic() < end:
        stale += heartbeats.stale_stages()
        time.sleep(0.05)
    assert stale == []
