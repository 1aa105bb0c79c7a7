from __future__ import annotations

import pytest

from jetsentry.publish import detections_topic, status_topic


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
