"""The files commands keep in the state directory: camera changes (cameras.json) and replies by
id (commands.json), read back as a restarted daemon reads them; the committed schemas."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from jetsentry.commands.camera_state import CameraState
from jetsentry.commands.replies import ReplyTable, reply_payload
from jetsentry.config.models import CameraConfig
from jetsentry.publish.schema import MESSAGES, schema_is_current

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
VIDEO = str(Path(__file__).resolve().parents[2] / "engines" / "samples" / "sample-scene.mp4")


def _cam(camera_id: str, **fields) -> CameraConfig:
    return CameraConfig.model_validate({"id": camera_id, "source": VIDEO, **fields})


@pytest.mark.parametrize("kind", ["commands", "command_result", "camera_event"])
def test_committed_command_schemas_are_generated_from_the_models(kind):
    assert kind in MESSAGES
    assert schema_is_current(CONFIG_DIR / f"{kind}.schema.json", kind), (
        f"config/{kind}.schema.json is out of date: python -m jetsentry.publish.schema {kind} > "
        f"config/{kind}.schema.json")


def test_camera_changes_apply_on_top_of_the_config_file_after_a_restart(tmp_path):
    configured = [_cam("a", fps_cap=5), _cam("b"), _cam("c")]
    state = CameraState(tmp_path)
    assert state.apply(configured) == configured  # nothing changed yet
    state.changed("a", {"fps_cap": 2})
    state.changed("a", {"enabled": False})
    state.dropped("b")
    state.added("d", {"id": "d", "source": VIDEO, "priority": 3})
    state.dropped("c")
    state.added("c", {"source": VIDEO, "on_eos": "stop"})  # a removed configured camera, added anew
    assert stat.S_IMODE((tmp_path / "cameras.json").stat().st_mode) == 0o600

    cameras = {cam.id: cam for cam in CameraState(tmp_path).apply(configured)}
    assert list(cameras) == ["a", "d", "c"]
    assert (cameras["a"].fps_cap, cameras["a"].enabled) == (2, False)
    assert cameras["d"].priority == 3
    assert cameras["c"].on_eos == "stop" and cameras["c"].fps_cap is None


def test_a_change_that_no_longer_validates_leaves_the_camera_as_configured(tmp_path, caplog):
    state = CameraState(tmp_path)
    state.apply([_cam("a")])
    state.changed("a", {"fps_cap": -1})  # as if written by an older version with other rules
    state.added("z", {"source": "nosuch://x"})
    cameras = CameraState(tmp_path).apply([_cam("a", fps_cap=4)])
    assert [(c.id, c.fps_cap) for c in cameras] == [("a", 4)]
    assert "camera a as changed by commands no longer validates" in caplog.text
    assert "camera z as changed by commands no longer validates" in caplog.text


def test_an_unreadable_camera_state_is_moved_aside(tmp_path, caplog):
    (tmp_path / "cameras.json").write_text("{not json")
    assert CameraState(tmp_path).apply([_cam("a")]) == [_cam("a")]
    assert (tmp_path / "cameras.json.unreadable").exists() and "cannot be read" in caplog.text


def test_reply_table_is_bounded_and_read_back_after_a_restart(tmp_path):
    table = ReplyTable(tmp_path, capacity=3)
    for n in range(5):
        table.put(f"c{n}", reply_payload(device_id="d", command_id=f"c{n}", command_type="status", result={"n": n}))
    assert len(table) == 3 and table.get("c0") is None and table.get("c1") is None
    again = ReplyTable(tmp_path, capacity=3)
    assert json.loads(again.get("c4"))["result"] == {"n": 4}
    assert [json.loads(again.get(f"c{n}"))["id"] for n in (2, 3, 4)] == ["c2", "c3", "c4"]
    assert len(ReplyTable(tmp_path, capacity=2)) == 2  # a smaller capacity keeps the newest


def test_an_unreadable_reply_table_starts_empty(tmp_path, caplog):
    (tmp_path / "commands.json").write_text('{"version": 1, "replies": 5}')
    assert len(ReplyTable(tmp_path, capacity=10)) == 0 and "cannot be read" in caplog.text
