"""The daemon end to end, as a subprocess: real GStreamer, ONNX Runtime, RTSP server and Mosquitto."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import jsonschema
import pytest

from jetsentry.capture import VideoFileReader
from tests.infer.onnx_models import head, ultralytics_metadata, write_detection_model
from tests.pipeline.daemon_process import SAMPLE_VIDEO, DaemonProcess, daemon_config
from tests.publish.messages import HEALTH_SCHEMA_PATH, schema_validator
from tests.support.broker import Subscriber
from tests.support.videos import garbage_file

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "config" / "detections.schema.json").read_text())


def detections_of(sub: Subscriber, device: str, camera: str) -> list[dict]:
    return [json.loads(m.payload) for m in sub.on_topic(f"jetsentry/{device}/{camera}/detections")]


def count_for(camera: str, n: int):
    def check(messages) -> bool:
        return sum(1 for m in messages if m.topic.endswith(f"/{camera}/detections")) >= n
    return check


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
        sub.wait_for(reason_named("camera gate: reconnecting"), 10, "a health message naming the lost camera")
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
    # Health: degraded once a camera failed, naming each fault as it comes and goes.
    health = health_of(sub)
    assert {m["state"] for m in health[1:]} == {"degraded"}  # the first may precede the failure
    assert all(any(r.startswith("camera broken: failed") for r in m["reasons"]) for m in health[1:])
    assert not any("camera gate" in r for r in health[-1]["reasons"])  # it came back


def reason_named(prefix: str):
    def check(messages) -> bool:
        return any(m.topic.endswith("/health") and any(r.startswith(prefix) for r in json.loads(m.payload)["reasons"])
                   for m in messages)
    return check


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


# ---------------------------------------------------------------- model check, health, exit status

def test_model_whose_head_disagrees_with_its_names_exits_2_naming_both(tmp_path, daemons):
    model = write_detection_model(tmp_path / "mismatch.onnx", head([(8, 8, 4, 4)], [[0.9] * 5], anchors=8),
                                  batch=None, hw=None, dynamic_head=True,
                                  metadata=ultralytics_metadata(["person", "car", "dog"]))
    config = daemon_config(tmp_path / "cfg.yaml", port=1, cameras=[{"id": "s", "source": str(SAMPLE_VIDEO)}],
                           model={"path": str(model)})
    daemon = daemons(config)
    assert daemon.proc.wait(60) == 2
    assert "9 channels but the model names 3 classes" in daemon.log and "Traceback" not in daemon.log
    assert "running:" not in daemon.log


def health_of(sub: Subscriber, device: str = "testdev") -> list[dict]:
    return [json.loads(m.payload) for m in sub.on_topic(f"jetsentry/{device}/health")]


def state_is(state: str):
    def check(messages) -> bool:
        return any(m.topic.endswith("/health") and json.loads(m.payload)["state"] == state for m in messages)
    return check


def test_failing_engine_reports_failing_logs_one_traceback_and_exits_1(tmp_path, mosquitto_broker, daemons):
    # Five names for five scores: the load check passes; every real frame size fails inside ONNX Runtime.
    model = write_detection_model(tmp_path / "fails.onnx", head([(8, 8, 4, 4)], [[0.9] * 5], anchors=8),
                                  batch=None, hw=None, runs_only_on_hw=(32, 32),
                                  metadata=ultralytics_metadata(["a", "b", "c", "d", "e"]))
    config = daemon_config(
        tmp_path / "cfg.yaml", port=mosquitto_broker.port, model={"path": str(model)},
        cameras=[{"id": "sample", "source": str(SAMPLE_VIDEO), "fps_cap": 10}],
        health={"failing_after_batches": 3, "error_log_interval_s": 1, "exit_after_failing_s": 3},
    )
    with Subscriber(mosquitto_broker, "jetsentry/#") as sub:
        sub.start()
        daemon = daemons(config)
        assert daemon.proc.wait(90) == 1
        sub.wait_for(lambda ms: any(m.payload == b"offline" for m in ms), 10, "the offline status")
    validator = schema_validator(HEALTH_SCHEMA_PATH)
    health = health_of(sub)
    for message in health:
        validator.validate(message)
    failing = [m for m in health if m["state"] == "failing"]
    assert failing and failing[0]["reasons"][0].startswith("inference: ")
    assert "fixed_hw" in failing[0]["reasons"][0] or "Add" in failing[0]["reasons"][0]  # ONNX Runtime's own words
    failed_batches = health[-1]["inference"]["batch_errors"]
    assert health[-1]["inference"]["batches"] == 0 and not detections_of(sub, "testdev", "sample")
    # One traceback, then summaries: far fewer lines than failed batches.
    log = daemon.log
    assert log.count("Traceback") == 1
    failure_lines = [line for line in log.splitlines() if "failed" in line and "batch of" in line]
    assert "more failure(s) in the last" in log and 1 < len(failure_lines) < failed_batches
    assert " -> failing: inference: " in log
    assert "health has been failing for " in log and "exiting with status 1" in log
    status = sub.on_topic("jetsentry/testdev/status")
    assert status[0].payload == b"online" and status[-1].payload == b"offline"


def test_every_camera_failed_reports_failing_and_exits_1_after_the_grace_time(tmp_path, mosquitto_broker, daemons):
    cameras = [{"id": name, "source": str(garbage_file(tmp_path / f"{name}.mp4", seed=i))}
               for i, name in enumerate(("front", "back"))]
    config = daemon_config(tmp_path / "cfg.yaml", port=mosquitto_broker.port, cameras=cameras,
                           health={"exit_after_failing_s": 2})
    with Subscriber(mosquitto_broker, "jetsentry/#") as sub:
        sub.start()
        daemon = daemons(config)
        sub.wait_for(state_is("failing"), 60, "a failing health message")
        assert daemon.proc.wait(60) == 1
        sub.wait_for(lambda ms: any(m.payload == b"offline" for m in ms), 10, "the offline status")
    (failing, *_) = [m for m in health_of(sub) if m["state"] == "failing"]
    assert failing["reasons"][0].startswith("cameras: no working camera, every camera failed: front (")
    assert "; back (" in failing["reasons"][0]
    assert {c["state"] for c in failing["cameras"].values()} == {"failed"}
    assert "health has been failing for " in daemon.log and "Traceback" not in daemon.log


def test_a_healthy_daemon_says_ok_in_its_retained_health_message(tmp_path, mosquitto_broker, daemons):
    config = daemon_config(tmp_path / "cfg.yaml", port=mosquitto_broker.port,
                           cameras=[{"id": "sample", "source": str(SAMPLE_VIDEO), "fps_cap": 10}])
    daemon = daemons(config)
    with Subscriber(mosquitto_broker, "jetsentry/#") as sub:
        sub.start()
        sub.wait_for(count_for("sample", 5), 60, "5 messages")
    with Subscriber(mosquitto_broker, "jetsentry/testdev/health") as late:
        late.start()
        (health,) = late.wait_for(lambda ms: len(ms) >= 1, 10, "the retained health message")[:1]
    assert daemon.terminate() == 0
    assert health.retain  # published before this subscriber came: the broker kept it
    message = json.loads(health.payload)
    schema_validator(HEALTH_SCHEMA_PATH).validate(message)
    assert message["state"] == "ok" and message["reasons"] == []
    assert message["cameras"]["sample"]["state"] in {"connecting", "streaming"}


# ---------------------------------------------------------------- signals

@pytest.mark.parametrize("library", ["_multiarray_umath", "onnxruntime_pybind11_state"],
                         ids=["during-imports", "during-model-load"])
def test_sigterm_during_start_up_is_a_clean_stop(tmp_path, mosquitto_broker, daemons, library):
    config = daemon_config(tmp_path / "cfg.yaml", port=mosquitto_broker.port,
                           cameras=[{"id": "sample", "source": str(SAMPLE_VIDEO)}])
    daemon = daemons(config)
    daemon.wait_mapped(library, 60)
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(60) == 0, daemon.log
    assert "received SIGTERM" in daemon.log and "Traceback" not in daemon.log


def _send_until_exit(daemon: DaemonProcess, signum: int, every_s: float = 0.02) -> threading.Thread:
    def send() -> None:
        while daemon.proc.poll() is None:
            daemon.proc.send_signal(signum)
            time.sleep(every_s)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("stop_signal", ["SIGHUP", "SIGINT"])
def test_stop_signal_while_the_broker_is_away_loses_nothing_and_repeats_are_harmless(
    tmp_path, mosquitto_factory, daemons, stop_signal
):
    broker = mosquitto_factory(persistence=True)
    config = daemon_config(tmp_path / "cfg.yaml", port=broker.port,
                           cameras=[{"id": "sample", "source": str(SAMPLE_VIDEO), "fps_cap": 10}])
    with Subscriber(broker, "jetsentry/#", persistent=True) as sub:
        sub.start()
        daemon = daemons(config)
        sub.wait_for(count_for("sample", 5), 60, "5 messages before the outage")
        broker.stop()
        daemon.wait_log("MQTT: connection to", 30)
        queued_from = len(daemon.log)
        daemon.wait_log("MQTT: next connection attempt", 30)  # frames keep coming; their messages queue
        time.sleep(1.0)
        assert "frames processed" not in daemon.log[queued_from:]
        daemon.proc.send_signal(getattr(signal, stop_signal))
        daemon.wait_log(f"received {stop_signal}, stopping", 30)
        repeats = _send_until_exit(daemon, signal.SIGINT) if stop_signal == "SIGINT" else None
        time.sleep(1.0)  # the broker returns within the publisher's flush time
        broker.start()
        assert daemon.proc.wait(60) == 0, daemon.log[-3000:]
        if repeats is not None:
            repeats.join(5)
            assert "ignored SIGINT" in daemon.log
        processed = int(daemon.log.split("stopped:")[1].split()[0])

        def all_then_offline(messages) -> bool:
            data = [i for i, m in enumerate(messages) if m.topic.endswith("/sample/detections")]
            return count_for("sample", processed)(messages) and any(
                m.payload == b"offline" for m in messages[data[-1] + 1:])

        messages = sub.wait_for(all_then_offline, 30, f"all {processed} messages, then the offline status")
    seqs = {json.loads(m.payload)["seq"] for m in messages if m.topic.endswith("/sample/detections")}
    # Every processed frame's message arrived (seq has gaps where frames were dropped for fps_cap).
    assert len(seqs) == processed and min(seqs) == 0
