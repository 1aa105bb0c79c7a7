"""The daemon end to end, as a subprocess: real GStreamer, ONNX Runtime, RTSP server and Mosquitto."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from jetsentry.capture import VideoFileReader
from tests.pipeline.daemon_process import SAMPLE_VIDEO, DaemonProcess, daemon_config
from tests.support.broker import Subscriber
from tests.support.videos import garbage_file

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "config" / "detections.schema.json").read_text())


def detections_of(sub: Subscriber, device: str, camera: str) -> list[dict]:
    return [json.loads(m.payload) for m in sub.on_topic(f"jetsentry/{device}/{camera}/detections")]


def count_for(camera: str, n: int):
    def check(messages) -> bool:
        return sum(1 for m in messages if m.topic.endswith(f"/{camera}/detections")) >= n
    return check


@pytest.fixture
def daemons():
    started: list[DaemonProcess] = []

    def start(config: Path) -> DaemonProcess:
        daemon = DaemonProcess(config).start()
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill()


def test_cameras_publish_valid_messages_bad_camera_isolated_rtsp_loss_recovers(
    tmp_path, mosquitto_broker, daemons, rtsp_server
):
    broken = garbage_file(tmp_path / "broken.mp4")
    config = daemon_config(
        tmp_path / "cfg.yaml",
        port=mosquitto_broker.port,
        cameras=[
            {"id": "sample", "source": str(SAMPLE_VIDEO), "fps_cap": 10},
            {"id": "gate", "source": rtsp_server.url, "fps_cap": 10},
            {"id": "broken", "source": str(broken)},
        ],
    )
    with Subscriber(mosquitto_broker, "jetsentry/#") as sub:
        sub.start()
        daemon = daemons(config)
        sub.wait_for(count_for("gate", 10), 60, "10 messages from the RTSP camera")
        sub.wait_for(count_for("sample", 10), 30, "10 messages from the file camera")
        daemon.wait_log("camera broken", 10)
        assert "FAILED" in daemon.log and str(broken) in daemon.log

        # The RTSP camera dies: its messages stop, the file camera keeps going.
        rtsp_server.kill()
        daemon.wait_log("camera gate: STREAMING -> RECOVERING", 20)
        sample_before = len(detections_of(sub, "testdev", "sample"))
        gate_before = detections_of(sub, "testdev", "gate")
        sub.wait_for(count_for("sample", sample_before + 10), 30, "file camera keeps publishing during RTSP loss")

        # It comes back: streaming again, and seq continues from where it was.
        rtsp_server.start()
        sub.wait_for(count_for("gate", len(gate_before) + 10), 60, "RTSP camera publishes again after restart")
        assert daemon.terminate() == 0

    gate = detections_of(sub, "testdev", "gate")
    sample = detections_of(sub, "testdev", "sample")
    for stream in (gate, sample):
        seqs = [m["seq"] for m in stream]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "seq must increase per camera"
    assert gate[-1]["seq"] > gate_before[-1]["seq"]
    assert not detections_of(sub, "testdev", "broken")
    # Every message is described by the published JSON Schema; the sample scene has objects.
    for message in gate + sample:
        jsonschema.validate(message, SCHEMA)
    assert sum(len(m["detections"]) for m in sample) > 0
    assert {d["label"] for m in sample for d in m["detections"]} <= {"car", "person", "bicycle", "dog", "truck"}
    status = sub.on_topic("jetsentry/testdev/status")
    assert status[0].payload == b"online" and status[-1].payload == b"offline"


def test_broker_down_at_startup_then_every_message_delivered(tmp_path, mosquitto_factory, daemons):
    broker = mosquitto_factory(persistence=True)
    # A persistent subscription, so the broker keeps what arrives before the subscriber reconnects.
    with Subscriber(broker, "jetsentry/#", persistent=True) as sub:
        sub.start()
        broker.stop()
        config = daemon_config(
            tmp_path / "cfg.yaml", port=broker.port,
            cameras=[{"id": "sample", "source": str(SAMPLE_VIDEO), "on_eos": "stop"}],
        )
        daemon = daemons(config)
        daemon.wait_log("camera sample: CONNECTING -> STREAMING", 30)
        daemon.wait_log("cannot reach broker", 30)  # it is retrying while the broker is away
        broker.start()
        daemon.wait_log("camera sample: STREAMING -> STOPPED", 60)  # the whole file was processed
        processed = _processed_frames_after_stop(daemon)
        messages = sub.wait_for(count_for("sample", processed), 30, f"all {processed} messages")
    seqs = [json.loads(m.payload)["seq"] for m in messages if m.topic.endswith("/sample/detections")]
    # At-least-once: every processed frame's message arrived (duplicates allowed), from the first.
    assert len(set(seqs)) == processed and min(seqs) == 0


@pytest.mark.parametrize("with_live_camera", [True, False])
def test_recording_not_realtime_publishes_every_frame_once(tmp_path, mosquitto_broker, daemons, with_live_camera):
    frames = sum(1 for _ in VideoFileReader(SAMPLE_VIDEO))
    cameras = [{"id": "recording", "source": str(SAMPLE_VIDEO), "on_eos": "stop", "realtime": False}]
    if with_live_camera:
        cameras.append({"id": "live", "source": "test://ball?width=320&height=240&fps=30"})
    config = daemon_config(tmp_path / "cfg.yaml", port=mosquitto_broker.port, cameras=cameras)
    with Subscriber(mosquitto_broker, "jetsentry/#") as sub:
        sub.start()
        daemon = daemons(config)
        daemon.wait_log("camera recording: STREAMING -> STOPPED", 120)
        sub.wait_for(count_for("recording", frames), 30, f"all {frames} frames of the recording")
        assert daemon.terminate() == 0
    # batching.prepare_ahead auto: on for recordings only, off when a live camera wants fresh frames.
    assert ("next batch prepared during inference" in daemon.log) is not with_live_camera
    recording = detections_of(sub, "testdev", "recording")
    # Every frame once, in order (also while a live camera shares the engine).
    assert [m["seq"] for m in recording] == list(range(frames))
    assert bool(detections_of(sub, "testdev", "live")) is with_live_camera
    for message in recording:
        jsonschema.validate(message, SCHEMA)


def _processed_frames_after_stop(daemon: DaemonProcess) -> int:
    assert daemon.terminate() == 0
    line = next(l for l in daemon.log.splitlines() if "stopped:" in l and "frames processed" in l)
    return int(line.split("stopped:")[1].split()[0])


def test_bad_config_exits_2_naming_the_field(tmp_path, daemons):
    config = daemon_config(tmp_path / "cfg.yaml", port=1, cameras=[{"id": "x", "source": "gopher://x"}])
    daemon = daemons(config)
    assert daemon.proc.wait(30) == 2
    assert "cameras[0].source" in daemon.log
