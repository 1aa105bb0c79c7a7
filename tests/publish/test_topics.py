from __future__ import annotations

from pathlib import Path

import pytest

from jetsentry.publish import detections_topic, health_topic, snapshot_topic, status_topic
from jetsentry.publish.topics import DEVICE_TOPICS, device_topic


def test_topics_follow_the_prefix():
    assert detections_topic("jetsentry", "dev1", "cam-2") == "jetsentry/dev1/cam-2/detections"
    assert status_topic("site/a", "dev1") == "site/a/dev1/status"


@pytest.mark.parametrize(("device_id", "camera_id", "match"),
                         [("dev/1", "cam", "device_id 'dev/1'"), ("dev", "cam+", "camera_id 'cam\\+'"),
                          ("", "cam", "device_id ''")])
def test_ids_that_break_topics_are_rejected(device_id, camera_id, match):
    with pytest.raises(ValueError, match=match):
        detections_topic("jetsentry", device_id, camera_id)


def test_bad_prefix_is_rejected():
    with pytest.raises(ValueError, match="topic prefix '/x'"):
        status_topic("/x", "dev")


def test_device_topics_match_the_acl_example():
    acl = (Path(__file__).resolve().parents[2] / "config" / "mosquitto" / "acl.example").read_text()
    granted = {line.split()[-1] for line in acl.splitlines() if line.startswith("pattern ")}
    assert {device_topic("jetsentry", "%u", name) for name in DEVICE_TOPICS} | {
        detections_topic("jetsentry", "%u", "CAMERA").replace("/CAMERA/", "/+/"),
        snapshot_topic("jetsentry", "%u", "CAMERA").replace("/CAMERA/", "/+/")} == granted
    assert device_topic("jetsentry", "dev1", "status") == status_topic("jetsentry", "dev1")
    assert device_topic("jetsentry", "dev1", "health") == health_topic("jetsentry", "dev1")
    with pytest.raises(ValueError, match="'detections' is not a device topic"):
        device_topic("jetsentry", "dev1", "detections")
