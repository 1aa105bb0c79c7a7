"""Governor events and the health message's governor part: schemas and exact fields."""

from __future__ import annotations

import json

import jsonschema
import pytest
from pydantic import ValidationError

from jetsentry.governor.events import event_payload
from jetsentry.health.message import GovernorHealth
from jetsentry.health.state import Health, HealthState, StageFacts
from jetsentry.publish.schema import schema_is_current
from jetsentry.publish.topics import events_topic
from tests.publish.messages import HEALTH_SCHEMA_PATH

EVENTS_SCHEMA_PATH = HEALTH_SCHEMA_PATH.with_name("events.schema.json")


def test_committed_events_schema_is_generated_from_the_model():
    assert schema_is_current(EVENTS_SCHEMA_PATH, "events"), (
        "config/events.schema.json is out of date: python -m jetsentry.publish.schema events > config/events.schema.json")


def test_an_event_validates_against_the_schema_and_an_unknown_type_is_refused():
    payload = event_payload(device_id="dev", ts=1.7e9, type="shed", reason="backlog 9 frames above 8", mode="shedding",
                            temperatures_c={"tj-thermal": 71.234}, camera_id="gate", fps_cap=7.5, switches=0)
    event = json.loads(payload)
    jsonschema.validate(event, json.loads(EVENTS_SCHEMA_PATH.read_text()))
    assert event["schema"] == "jetsentry.event/1" and event["ts"] == "2023-11-14T22:13:20.000Z"
    assert event["temperatures_c"] == {"tj-thermal": 71.23} and event["from_backend"] is None
    with pytest.raises(ValidationError):
        event_payload(device_id="dev", ts=1.7e9, type="meltdown", reason="", mode="normal")
    assert events_topic("jetsentry", "dev") == "jetsentry/dev/events"


def test_the_governor_part_has_exactly_the_fields_the_metrics_read():
    assert list(GovernorHealth.model_fields) == ["mode", "backend", "since", "reason", "temperatures_c", "gpu_load",
                                                 "gpu_memory_used_bytes", "switches", "shed_cameras"]
    part = GovernorHealth(mode="cpu_fallback", backend="onnxruntime-cpu", since="2026-12-01T20:00:00.000Z",
                          reason="GPU lost", temperatures_c={"gpu": 51.0}, gpu_load=None, gpu_memory_used_bytes=None,
                          switches=1, shed_cameras={"gate": 7.5})
    assert part.model_dump()["shed_cameras"] == {"gate": 7.5}
    with pytest.raises(ValidationError):
        GovernorHealth(**{**part.model_dump(), "mode": "overheated"})


@pytest.mark.parametrize("mode", ["shedding", "cpu_fallback"])
def test_health_is_degraded_while_shedding_or_on_the_fallback(mode):
    state = HealthState()
    change = state.update(StageFacts(cameras={"cam": _streaming()}, governor_mode=mode, governor_reason="GPU lost"))
    assert change is not None and change.state is Health.DEGRADED
    assert [str(r) for r in state.current.reasons] == [f"governor: {mode}: GPU lost"]
    assert state.update(StageFacts(cameras={"cam": _streaming()})).state is Health.OK


def _streaming():
    from jetsentry.health.state import CameraFacts

    return CameraFacts("streaming")
