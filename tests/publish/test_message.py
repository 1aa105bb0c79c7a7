from __future__ import annotations

import copy
import json
import re

import jsonschema
import numpy as np
import pytest

from jetsentry.detections import Detections
from jetsentry.publish import DetectionsMessage, build_detections_message, format_utc_ms
from jetsentry.publish.schema import schema_is_current, schema_text
from tests.publish.messages import LABELS, MODEL, SCHEMA_PATH, sample_detections, sample_message, schema_validator


def test_committed_schema_is_generated_from_the_models():
    assert schema_is_current(SCHEMA_PATH), (
        f"{SCHEMA_PATH} is out of date; regenerate it: python -m jetsentry.publish.schema > config/detections.schema.json"
    )
    assert json.loads(schema_text())["properties"]["schema"]["const"] == "jetsentry.detections/2"


def test_built_message_has_every_field_and_validates():
    payload = sample_message()
    schema_validator().validate(json.loads(payload))
    message = DetectionsMessage.model_validate_json(payload)  # the pydantic models agree with the builder
    assert (message.schema_id, message.device_id, message.camera_id, message.seq) == (
        "jetsentry.detections/2", "dev1", "cam1", 0)
    assert (message.message_id, message.run) == ("dev1/cam1/3/0", 3)
    assert message.capture_ts == "2024-05-01T12:00:00.123Z"
    assert message.processed_ts == "2024-05-01T12:00:00.200Z"
    assert (message.frame.width, message.frame.height) == (1920, 1080)
    assert message.latency_ms.inference == 30.125
    assert [(d.track_id, d.class_id, d.label) for d in message.detections] == [
        (7, 0, "person"), (None, 2, "car"), (0, 1, "bicycle")]


def test_numbers_are_short_without_float32_noise():
    text = sample_message().decode()
    detections = json.loads(text)["detections"]
    assert detections[0]["bbox"] == [12.34, 5.0, 100.5, 80.25]
    assert detections[1]["bbox"] == [0.0, 0.0, 1919.99, 1079.5]
    assert detections[0]["score"] == 0.9123
    assert not re.search(r"\d\.\d{5,}", text)  # no 12.340000152587891-style tails
    assert " " not in text  # compact separators


_FIXED_PART = (
    b'{"schema":"jetsentry.detections/2","message_id":"dev1/cam1/3/0","device_id":"dev1","camera_id":"cam1",'
    b'"run":3,"seq":0,'
    b'"capture_ts":"2024-05-01T12:00:00.123Z","processed_ts":"2024-05-01T12:00:00.200Z",'
    b'"model":{"name":"yolov8n-test","version":"1","sha256":"' + b"ab" * 32 + b'"},'
    b'"backend":"onnxruntime-cpu","frame":{"width":1920,"height":1080},'
)
_LATENCY_PART = (b'"latency_ms":{"decode_to_batch":1.5,"preprocess":2.25,"inference":30.125,"postprocess":0.5,'
                 b'"tracking":0.25,"total":35.0}}')


def test_message_bytes_are_pinned():
    # The exact bytes subscribers see: key order, compact separators, number formatting, null track ids.
    assert sample_message() == _FIXED_PART + (
        b'"detections":[{"track_id":7,"class_id":0,"label":"person","score":0.9123,"bbox":[12.34,5.0,100.5,80.25]},'
        b'{"track_id":null,"class_id":2,"label":"car","score":0.5,"bbox":[0.0,0.0,1919.99,1079.5]},'
        b'{"track_id":0,"class_id":1,"label":"bicycle","score":0.25,"bbox":[50.0,60.0,70.0,80.0]}],'
    ) + _LATENCY_PART
    assert sample_message(detections=Detections.empty()) == _FIXED_PART + b'"detections":[],' + _LATENCY_PART


def test_no_detections_gives_an_empty_list():
    message = json.loads(sample_message(detections=Detections.empty()))
    schema_validator().validate(message)
    assert message["detections"] == []


def test_utc_timestamps_round_to_the_millisecond():
    assert format_utc_ms(0) == "1970-01-01T00:00:00.000Z"
    assert format_utc_ms(1714564800.0004) == "2024-05-01T12:00:00.000Z"
    assert format_utc_ms(1714564800.9996) == "2024-05-01T12:00:01.000Z"  # carries into the next second
    with pytest.raises(ValueError, match="finite"):
        format_utc_ms(float("nan"))


def _with(**changes) -> Detections:
    detections = sample_detections()
    for name, value in changes.items():
        setattr(detections, name, value)
    return detections


@pytest.mark.parametrize(
    ("detections", "match"),
    [
        (_with(boxes=np.zeros((3, 5), np.float32)), r"detections\.boxes has shape \(3, 5\)"),
        (_with(class_ids=np.zeros(2, np.int32)), r"detections\.class_ids has shape \(2,\)"),
        (_with(class_ids=np.array([0, 3, 1], np.int32)), "class_ids span 0..3, but only 3 labels"),
        (_with(scores=np.array([0.5, np.nan, 0.2], np.float32)), "NaN or infinity"),
    ],
)
def test_bad_detections_are_named(detections, match):
    with pytest.raises(ValueError, match=match):
        sample_message(detections=detections)


def test_latency_keys_are_checked():
    with pytest.raises(ValueError, match=r"missing \['tracking'\], unknown \['track'\]"):
        build_detections_message(
            device_id="d", camera_id="c", seq=1, capture_ts=0.0, model=MODEL, backend="b", width=1, height=1,
            detections=Detections.empty(), labels=LABELS,
            latency_ms={"decode_to_batch": 0, "preprocess": 0, "inference": 0, "postprocess": 0, "track": 0,
                        "total": 0},
        )


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("schema",), "jetsentry.detections/1"),  # the format before message_id and run
        (("message_id",), "dev1/cam1/3"),  # no seq
        (("run",), -1),
        (("capture_ts",), "2024-05-01T12:00:00Z"),  # no milliseconds
        (("detections", 0, "bbox"), [1.0, 2.0, 3.0]),
        (("detections", 0, "score"), 1.5),
        (("model", "sha256"), "xyz"),
        (("latency_ms", "extra"), 1.0),
    ],
)
def test_schema_rejects_malformed_messages(path, value):
    message = copy.deepcopy(json.loads(sample_message()))
    node = message
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        schema_validator().validate(message)
