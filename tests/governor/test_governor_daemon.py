"""The governor end to end: the real daemon (subprocess), a real video, a real Mosquitto broker.

There is no GPU here: the primary backend is ONNX Runtime's CPU engine on the bundled model's
FP32 file, standing in for a GPU backend; the fallback is the CPU backend on its INT8 variant
(what governor.fallback gives a CPU fallback).  Both name their backend onnxruntime-cpu, so the
detections messages' model.sha256 tells which one inferred each frame.  Temperatures come from
a FAKE Jetson sysfs tree the test writes; engine failures from a FAKE engine wrapper raising the
real exception types (tests/governor/faulty_engine.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from jetsentry.infer.model_info import ModelInfo
from tests.governor.faulty_engine import MODEL_ENV, TRIGGER_ENV
from tests.governor.sysfs_tree import FakeThermalZones
from tests.pipeline.daemon_process import DEFAULT_MODEL, SAMPLE_VIDEO, DaemonProcess, daemon_config
from tests.publish.messages import HEALTH_SCHEMA_PATH
from tests.support.broker import Subscriber

INT8_MODEL = DEFAULT_MODEL.with_name("jetsentry-default.int8.onnx")
EVENTS_SCHEMA = json.loads((HEALTH_SCHEMA_PATH.with_name("events.schema.json")).read_text())
HEALTH_SCHEMA = json.loads(HEALTH_SCHEMA_PATH.read_text())


@pytest.fixture(scope="module")
def shas() -> dict[str, str]:
    return {"fp32": ModelInfo.from_onnx(DEFAULT_MODEL).sha256, "int8": ModelInfo.from_onnx(INT8_MODEL).sha256}


def governed_config(tmp_path: Path, port: int, sysfs_root: Path, **governor) -> Path:
    return daemon_config(
        tmp_path / "cfg.yaml", port=port,
        # A recording handed over frame by frame: every decoded frame reaches inference, so any
        # frame lost in a switch would show as a gap in seq.
        cameras=[{"id": "rec", "source": str(SAMPLE_VIDEO), "realtime": False, "on_eos": "loop"}],
        model={"precision": "fp32", "variants": {"int8": str(INT8_MODEL)}},
        health={"interval_s": 5},
        governor={"enabled": True, "interval_s": 0.1, "cooldown_s": 1.0, "t_hot_c": 90, "t_cool_c": 80,
                  "monitors": {"sysfs_root": str(sysfs_root), "jetson_gpu_load": False},
                  "shedding": {"enabled": False}, **governor},
    )


def detections(sub: Subscriber) -> list[dict]:
    return [json.loads(m.payload) for m in sub.on_topic("jetsentry/testdev/rec/detections")]


def events(sub: Subscriber) -> list[dict]:
    return [json.loads(m.payload) for m in sub.on_topic("jetsentry/testdev/events")]


def health(sub: Subscriber) -> list[dict]:
    return [json.loads(m.payload) for m in sub.on_topic("jetsentry/testdev/health")]


def event_of(kind: str, count: int = 1):
    def check(messages) -> bool:
        return sum(1 for m in messages if m.topic.endswith("/events") and json.loads(m.payload)["type"] == kind) \
            >= count
    return check


def served_by(sha: str, after: int, count: int):
    """At least `count` detections messages inferred by the file `sha` among those after the first `after`."""
    def check(messages) -> bool:
        mine = [json.loads(m.payload) for m in messages if m.topic.endswith("/rec/detections")]
        return sum(1 for m in mine[after:] if m["model"]["sha256"] == sha) >= count
    return check


def assert_no_frame_lost_and_one_cut_each_way(stream: list[dict], shas: dict[str, str]) -> None:
    seqs = sorted({m["seq"] for m in stream})
    assert seqs == list(range(seqs[0], seqs[-1] + 1)), "a frame taken from the camera was lost"
    order = [m["model"]["sha256"] for m in sorted(stream, key=lambda m: m["seq"])]
    runs = [sha for i, sha in enumerate(order) if i == 0 or sha != order[i - 1]]
    assert runs == [shas["fp32"], shas["int8"], shas["fp32"]]


def assert_camera_never_reopened(daemon: DaemonProcess, last_health: dict) -> None:
    assert daemon.log.count("camera rec: CONNECTING -> STREAMING") == 1
    assert "camera rec: STREAMING -> RECOVERING" not in daemon.log
    assert last_health["cameras"]["rec"]["reconnects"] == 0


def test_overheating_moves_inference_to_the_cpu_fallback_and_back(tmp_path, mosquitto_broker, shas):
    zones = FakeThermalZones(tmp_path / "jetson", {"cpu-thermal": 60.0, "tj-thermal": 62.0})
    config = governed_config(tmp_path, mosquitto_broker.port, zones.root)
    with Subscriber(mosquitto_broker, "jetsentry/#") as sub:
        sub.start()
        daemon = DaemonProcess(config).start()
        try:
            sub.wait_for(served_by(shas["fp32"], 0, 5), 60, "5 frames from the primary")
            zones.set("tj-thermal", 95.0)
            sub.wait_for(event_of("fallback"), 30, "the fallback event")
            before = len(detections(sub))
            sub.wait_for(served_by(shas["int8"], 0, 5), 30, "5 frames from the CPU fallback (INT8)")
            sub.wait_for(lambda ms: any(json.loads(m.payload).get("governor", {}) and
                                        json.loads(m.payload)["governor"]["mode"] == "cpu_fallback"
                                        for m in ms if m.topic.endswith("/health")), 10, "health in cpu_fallback")
            zones.set("tj-thermal", 85.0)  # below t_hot, above t_cool: stays on the fallback
            zones.set("tj-thermal", 70.0)
            sub.wait_for(event_of("recovery"), 30, "the recovery event")
            after = len(detections(sub))
            sub.wait_for(served_by(shas["fp32"], after, 5), 30, "5 frames from the primary again")
            assert daemon.terminate() == 0
        finally:
            daemon.kill()
    stream, published, reports = detections(sub), events(sub), health(sub)
    assert before > 0
    assert [e["type"] for e in published] == ["fallback", "recovery"]
    for event in published:
        jsonschema.validate(event, EVENTS_SCHEMA)
    fallback, recovery = published
    assert fallback["reason"] == "tj-thermal 95.0 °C above t_hot 90 °C"
    assert fallback["temperatures_c"] == {"cpu-thermal": 60.0, "tj-thermal": 95.0}
    assert (fallback["from_backend"], fallback["to_backend"], fallback["mode"]) == \
        ("onnxruntime-cpu", "onnxruntime-cpu", "cpu_fallback")
    assert recovery["mode"] == "normal" and recovery["switches"] == 2
    # Heat left the GPU backend working: it was kept alive, and only warmed and probed again.
    assert recovery["reason"] == "primary backend kept alive, warmed and probed: returning"
    assert_no_frame_lost_and_one_cut_each_way(stream, shas)
    for report in reports:
        jsonschema.validate(report, HEALTH_SCHEMA)
    on_fallback = [r for r in reports if r["governor"]["mode"] == "cpu_fallback"]
    assert on_fallback and all(r["state"] == "degraded" for r in on_fallback)
    assert any(reason.startswith("governor: cpu_fallback: tj-thermal 95.0") for reason in on_fallback[0]["reasons"])
    assert on_fallback[0]["governor"]["switches"] == 1
    assert reports[-1]["governor"]["mode"] == "normal" and reports[-1]["governor"]["switches"] == 2
    assert reports[-1]["state"] == "ok"
    assert_camera_never_reopened(daemon, reports[-1])


def fault_through_fallback_and_back(tmp_path, broker, shas, fault: str, **governor):
    """The daemon with the FAKE faulty engine: frames from the primary, then ``fault`` until the fallback
    event, then no fault: frames from the fallback, the recovery, frames from the rebuilt primary.
    Returns the subscriber (its messages) and the stopped daemon."""
    zones = FakeThermalZones(tmp_path / "jetson", {"tj-thermal": 50.0})
    trigger = tmp_path / "fault"
    # The rebuild starts prepare_lead_s before the cooldown ends: 2 s after the switch, well after the
    # fault is gone (a rebuild while it is on would fail its probe: another event).
    config = governed_config(tmp_path, broker.port, zones.root, error_window_s=60, cooldown_s=3.0,
                             prepare_lead_s=1.0, **governor)
    env = {TRIGGER_ENV: str(trigger), MODEL_ENV: str(DEFAULT_MODEL)}
    with Subscriber(broker, "jetsentry/#") as sub:
        sub.start()
        daemon = DaemonProcess(config, module="tests.governor.faulty_engine", env=env).start()
        try:
            sub.wait_for(served_by(shas["fp32"], 0, 3), 60, "3 frames from the primary")
            trigger.write_text(fault)
            sub.wait_for(event_of("fallback"), 30, "the fallback event")
            trigger.unlink()  # the GPU works again: the rebuilt primary passes its probe
            sub.wait_for(served_by(shas["int8"], 0, 3), 30, "frames from the fallback")
            sub.wait_for(event_of("recovery"), 30, "the recovery event")
            after = len(detections(sub))
            sub.wait_for(served_by(shas["fp32"], after, 3), 30, "frames from the primary again")
            assert daemon.terminate() == 0
        finally:
            daemon.kill()
    return sub, daemon


@pytest.mark.parametrize("fault", ["cuda", "memory", "onnxruntime"])
def test_engine_errors_of_each_real_type_move_inference_to_the_fallback(tmp_path, mosquitto_broker, shas, fault):
    sub, daemon = fault_through_fallback_and_back(tmp_path, mosquitto_broker, shas, fault, engine_errors=3)
    published = events(sub)
    assert [e["type"] for e in published] == ["fallback", "recovery"]
    for event in published:
        jsonschema.validate(event, EVENTS_SCHEMA)
    assert published[0]["reason"].startswith("3 engine errors within 60 s (last: ")
    reports = health(sub)
    assert_camera_never_reopened(daemon, reports[-1])
    assert reports[-1]["inference"]["batch_errors"] >= 3
    # The batches the primary failed were held and inferred by the fallback, before newer frames:
    # every frame taken from the camera was published, in order.
    seqs = [m["seq"] for m in detections(sub)]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert "frame(s) of batches the primary failed go to the fallback" in daemon.log


LIVE_BALL = "test://ball?width=320&height=240&fps=30"  # live 30 frames/s: more than the FP32 model keeps up with


def shedding_config(tmp_path: Path, port: int, cameras: list[dict]) -> Path:
    """Shedding on at small thresholds, a step every 0.5 s; temperatures cool (no fallback)."""
    zones = FakeThermalZones(tmp_path / "jetson", {"tj-thermal": 50.0})
    return daemon_config(
        tmp_path / "cfg.yaml", port=port, cameras=cameras, health={"interval_s": 5},
        governor={"enabled": True, "interval_s": 0.2,
                  "monitors": {"sysfs_root": str(zones.root), "jetson_gpu_load": False},
                  "shedding": {"backlog_enter": 2, "backlog_leave": 0, "latency_enter_s": 30, "latency_leave_s": 20,
                               "step": 0.5, "min_fps": 2, "step_interval_s": 0.5}},
    )


def test_overload_sheds_the_lower_priority_camera_first_and_health_shows_it(tmp_path, mosquitto_broker):
    # Two live 30 frames/s cameras into the FP32 model on one thread: inference cannot keep up, so
    # frames are replaced in the slots (the backlog the pipeline monitor reads).
    config = shedding_config(tmp_path, mosquitto_broker.port, [{"id": "front", "source": LIVE_BALL, "priority": 5},
                                                                 {"id": "back", "source": LIVE_BALL, "priority": 0}])
    with Subscriber(mosquitto_broker, "jetsentry/#") as sub:
        sub.start()
        daemon = DaemonProcess(config).start()
        try:
            sub.wait_for(event_of("shed", 2), 60, "two shedding steps")
            sub.wait_for(lambda ms: any(m.topic.endswith("/health") and
                                        json.loads(m.payload)["governor"]["mode"] == "shedding" for m in ms),
                         10, "health in shedding mode")
            assert daemon.terminate() == 0
        finally:
            daemon.kill()
    published = events(sub)
    for event in published:
        jsonschema.validate(event, EVENTS_SCHEMA)
    sheds = [e for e in published if e["type"] in ("shed", "restore")]
    # The lower-priority camera first, from its delivered rate (about 30 frames/s) in halves.
    assert sheds[0]["camera_id"] == "back" and sheds[0]["type"] == "shed" and "backlog" in sheds[0]["reason"]
    assert sheds[1]["camera_id"] == "back" and sheds[1]["fps_cap"] == pytest.approx(sheds[0]["fps_cap"] / 2, rel=1e-3)
    assert all(e["from_backend"] is None and e["mode"] == "shedding" for e in sheds if e["type"] == "shed")
    reports = health(sub)
    shedding = [r for r in reports if r["governor"]["mode"] == "shedding"]
    assert shedding and shedding[0]["state"] == "degraded"
    assert "back" in shedding[0]["governor"]["shed_cameras"]
    assert any(r.startswith("governor: shedding: ") for r in shedding[0]["reasons"])
    final = reports[-1]
    assert final["cameras"]["back"]["dropped_policy"] > 0
    assert final["cameras"]["back"]["dropped_policy"] <= final["cameras"]["back"]["dropped"]
    assert final["cameras"]["front"]["reconnects"] == final["cameras"]["back"]["reconnects"] == 0


def test_a_camera_added_by_command_is_shed_by_its_priority(tmp_path, mosquitto_broker):
    # One high-priority camera from the configuration, one of priority 0 added at run time: the
    # shedder follows the running cameras, so the added one is shed before the configured one.
    from tests.commands.client import CommandClient

    config = shedding_config(tmp_path, mosquitto_broker.port, [{"id": "front", "source": LIVE_BALL, "priority": 5}])
    with Subscriber(mosquitto_broker, "jetsentry/#") as sub:
        sub.start()
        daemon = DaemonProcess(config).start()
        try:
            daemon.wait_log("running: 1 camera(s)", 60)
            reply = CommandClient(mosquitto_broker, sub).send(
                {"id": "add-side", "type": "add_camera", "camera": {"id": "side", "source": LIVE_BALL, "priority": 0}})
            assert reply["ok"], reply
            sub.wait_for(lambda ms: any(m.topic.endswith("/events") and json.loads(m.payload).get("type") == "shed"
                                        and json.loads(m.payload).get("camera_id") == "side" for m in ms),
                         60, "a shedding step for the added camera")
            assert daemon.terminate() == 0
        finally:
            daemon.kill()
    side = [e for e in events(sub) if e["type"] == "shed" and e["camera_id"] == "side"]
    # Halved from the rate it delivers (at most its 30 frames/s), the reason naming it.
    assert side[0]["fps_cap"] <= 15.5 and "camera side " in side[0]["reason"]


def test_a_hung_engine_call_falls_back_at_once_loses_no_frame_and_returns_to_a_fresh_primary(
        tmp_path, mosquitto_broker, shas):
    # The primary's call never returns while the fault says hang, and returns late once it is gone.
    # engine_errors is far above what a hang produces (the stuck batch, the one prepared behind it):
    # only the timeout's own rule can move inference.
    sub, daemon = fault_through_fallback_and_back(tmp_path, mosquitto_broker, shas, "hang", engine_errors=50,
                                                  engine_timeout_s=1.5)
    published = events(sub)
    assert [e["type"] for e in published] == ["fallback", "recovery"]
    for event in published:
        jsonschema.validate(event, EVENTS_SCHEMA)
    reason = published[0]["reason"]
    assert reason.startswith("engine call timed out, counted as the GPU lost: EngineTimeoutError: ")
    assert "gave no result within 1.5 s (governor.engine_timeout_s)" in reason
    assert published[1]["reason"] == "primary backend rebuilt, warmed and probed: returning"  # a fresh engine
    stream = detections(sub)
    # Every frame taken was published once (the stuck call's late result went nowhere), in seq order.
    assert [m["seq"] for m in stream] == list(range(stream[0]["seq"], stream[0]["seq"] + len(stream)))
    assert_no_frame_lost_and_one_cut_each_way(stream, shas)
    assert "not closed, left to its stuck thread" in daemon.log
    assert "frame(s) of batches the primary failed go to the fallback" in daemon.log
    assert_camera_never_reopened(daemon, health(sub)[-1])
