"""Commands to a real daemon through a real Mosquitto: cameras added, updated, removed while the
others run; bad commands answered and the daemon serving on; replayed ids; the changes and
the ids kept across a real restart; snapshots over MQTT and HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import jsonschema
import numpy as np

from tests.commands.client import CommandClient
from tests.pipeline.daemon_process import SAMPLE_VIDEO, daemon_config
from tests.support.broker import Subscriber, free_port

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
RESULT_SCHEMA = json.loads((CONFIG_DIR / "command_result.schema.json").read_text())
EVENT_SCHEMA = json.loads((CONFIG_DIR / "camera_event.schema.json").read_text())
# The sample plays at 15 fps; capped at 5 every third frame is handed over: consecutive messages
# of an undisturbed camera are a few seq apart, never a second's worth of frames or more.
SOURCE_FPS = 15


def _detections(subscriber: Subscriber, camera: str) -> list[dict]:
    return [json.loads(m.payload) for m in subscriber.on_topic(f"jetsentry/testdev/{camera}/detections")]


def _count(subscriber: Subscriber, camera: str) -> int:
    return len(subscriber.on_topic(f"jetsentry/testdev/{camera}/detections"))


def _wait_more(subscriber: Subscriber, camera: str, more: int, timeout: float = 60) -> None:
    start = _count(subscriber, camera)
    subscriber.wait_for(lambda ms: _count(subscriber, camera) >= start + more, timeout,
                        f"{more} more messages from {camera}")


def _assert_undisturbed(messages: list[dict], camera: str) -> None:
    seqs = [m["seq"] for m in messages]
    assert len(seqs) > 10, f"{camera}: only {len(seqs)} messages"
    assert {m["run"] for m in messages} == {messages[0]["run"]}
    gaps = np.diff(seqs)
    assert (gaps > 0).all(), f"{camera}: seq not strictly increasing: {seqs}"
    assert gaps.max() < SOURCE_FPS, f"{camera}: a gap of {gaps.max()} frames in {seqs}"


def _camera(camera_id: str, **fields) -> dict:
    return {"id": camera_id, "source": str(SAMPLE_VIDEO), "fps_cap": 5, **fields}


def _config(tmp_path: Path, port: int, metrics_port: int) -> Path:
    return daemon_config(tmp_path / "cfg.yaml", port=port, cameras=[_camera("cam1"), _camera("cam2")],
                         metrics={"listen": f"127.0.0.1:{metrics_port}"})


def test_cameras_change_at_run_time_others_undisturbed_bad_commands_answered(tmp_path, mosquitto_broker, daemons):
    metrics_port = free_port()
    config = _config(tmp_path, mosquitto_broker.port, metrics_port)
    with Subscriber(mosquitto_broker, "jetsentry/testdev/#") as subscriber:
        subscriber.start()
        client = CommandClient(mosquitto_broker, subscriber)
        daemon = daemons(config)
        daemon.wait_log("running: 2 camera(s)", 60)
        _wait_more(subscriber, "cam1", 5)
        _wait_more(subscriber, "cam2", 5)

        added = client.send({"id": "add-3", "type": "add_camera", "camera": _camera("cam3")})
        assert added["ok"] and added["result"]["started"], added
        _wait_more(subscriber, "cam3", 5)

        # A new source: cam3's session restarts and goes on counting within the run.
        updated = client.send({"id": "upd-3", "type": "update_camera", "camera_id": "cam3",
                               "changes": {"source": SAMPLE_VIDEO.as_uri()}})
        assert updated["ok"] and updated["result"]["restarted"] and updated["result"]["changed"] == ["source"]
        _wait_more(subscriber, "cam3", 5)
        capped = client.send({"id": "cap-1", "type": "set_fps_cap", "camera_id": "cam1", "fps_cap": 3})
        assert capped["ok"] and not capped["result"]["restarted"], capped

        snapshot = client.send({"id": "snap-1", "type": "snapshot", "camera_id": "cam2"})
        assert snapshot["ok"], snapshot
        jpeg = subscriber.on_topic(snapshot["result"]["topic"])[-1].payload
        picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert picture.shape == (360, 640, 3) and len(jpeg) == snapshot["result"]["bytes"]
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/snapshot/cam1.jpg", timeout=10) as response:
            assert response.headers["Content-Type"] == "image/jpeg"
            picture = cv2.imdecode(np.frombuffer(response.read(), np.uint8), cv2.IMREAD_COLOR)
        assert picture.shape == (360, 640, 3)
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/snapshot/nosuch.jpg", timeout=10)
            raise AssertionError("a snapshot of an unknown camera was served")
        except urllib.error.HTTPError as exc:
            assert exc.code == 404

        removed = client.send({"id": "rm-3", "type": "remove_camera", "camera_id": "cam3"})
        assert removed["ok"], removed
        cam3_after_removal = _count(subscriber, "cam3")

        # Bad commands: each answered with its reason, nothing executed, the daemon serves on.
        bad = {
            "malformed_json": client.send_unreadable(b'{"id": "x", "type": '),
            "payload_too_large": client.send_unreadable(json.dumps(
                {"id": "big", "type": "status", "pad": "x" * 70_000}).encode()),
            "not_an_object": client.send_unreadable(b"[1, 2]"),
            "unknown_type": client.send({"id": "bad-type", "type": "reboot"}),
            "invalid_field": client.send({"id": "bad-cap", "type": "add_camera", "camera": _camera("cam9", fps_cap=-1)}),
            "unknown_camera": client.send({"id": "bad-cam", "type": "remove_camera", "camera_id": "nosuch"}),
            "camera_exists": client.send({"id": "dup-cam", "type": "add_camera", "camera": _camera("cam1")}),
        }
        for code, reply in bad.items():
            assert not reply["ok"] and reply["error"]["code"] == code, (code, reply)
            jsonschema.validate(reply, RESULT_SCHEMA)
        assert "fps_cap" in bad["invalid_field"]["error"]["message"]
        assert "nosuch" in bad["unknown_camera"]["error"]["message"]

        # A replayed id: its first reply, nothing executed again (cam3 stays removed).
        replayed = client.send({"id": "add-3", "type": "add_camera", "camera": _camera("cam3")})
        assert replayed["replayed"] and replayed["ok"] and replayed["result"] == added["result"]
        status = client.send({"id": "status-1", "type": "status"})
        assert sorted(status["result"]["cameras"]) == ["cam1", "cam2"]
        assert status["result"]["cameras"]["cam1"]["fps_cap"] == 3
        _wait_more(subscriber, "cam1", 5)
        _wait_more(subscriber, "cam2", 5)
        assert _count(subscriber, "cam3") <= cam3_after_removal + 4  # at most what was in flight
        assert daemon.proc.poll() is None

    for camera in ("cam1", "cam2"):
        _assert_undisturbed(_detections(subscriber, camera), camera)
        assert daemon.log.count(f"camera {camera}: starting capture") == 1
    cam3 = _detections(subscriber, "cam3")
    assert len({m["message_id"] for m in cam3}) == len(cam3)  # the restarted session went on counting
    assert [m["seq"] for m in cam3] == sorted(m["seq"] for m in cam3)
    events = [json.loads(m.payload) for m in subscriber.on_topic("jetsentry/testdev/events")]
    for event in events:
        jsonschema.validate(event, EVENT_SCHEMA)
    assert [(e["type"], e["camera_id"]) for e in events] == [
        ("camera_added", "cam3"), ("camera_updated", "cam3"), ("fps_cap_set", "cam1"), ("camera_removed", "cam3")]
    for reply in client.replies():
        jsonschema.validate(reply, RESULT_SCHEMA)


def test_camera_changes_and_command_ids_survive_a_restart(tmp_path, mosquitto_broker, daemons):
    config = _config(tmp_path, mosquitto_broker.port, free_port())
    with Subscriber(mosquitto_broker, "jetsentry/testdev/#") as subscriber:
        subscriber.start()
        client = CommandClient(mosquitto_broker, subscriber)
        first = daemons(config)
        first.wait_log("running: 2 camera(s)", 60)
        added = client.send({"id": "add-4", "type": "add_camera", "camera": _camera("cam4")})
        assert added["ok"], added
        assert client.send({"id": "off-2", "type": "disable_camera", "camera_id": "cam2"})["ok"]
        assert client.send({"id": "cap-1", "type": "set_fps_cap", "camera_id": "cam1", "fps_cap": 2})["ok"]
        assert first.terminate() == 0

        second = daemons(config)
        second.wait_log("run 2", 60)
        _wait_more(subscriber, "cam4", 5)
        replayed = client.send({"id": "add-4", "type": "add_camera", "camera": _camera("cam4")})
        assert replayed["replayed"] and replayed["result"] == added["result"]
        status = client.send({"id": "status-2", "type": "status"})["result"]
        assert status["run"] == 2
        assert status["cameras"]["cam1"]["fps_cap"] == 2
        assert status["cameras"]["cam2"]["enabled"] is False and status["cameras"]["cam2"]["state"] == "disabled"
        assert status["cameras"]["cam4"]["state"] == "streaming"
        assert "camera change(s) made by commands applied" in second.log
        run2 = [m for m in _detections(subscriber, "cam4") if m["run"] == 2]
        assert run2 and run2[0]["seq"] < 15  # a fresh run counts from 0 again
        assert second.log.count("camera cam4: starting capture") == 1
