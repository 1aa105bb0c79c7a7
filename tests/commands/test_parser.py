"""The command parser: each kind of bad command refused with its code and a reason naming what is
wrong; fuzzed with hypothesis (it never raises, never quotes a password, and accepts exactly
what the schema accepts)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jetsentry.commands.models import COMMAND_TYPES
from jetsentry.commands.parser import Parsed, Refused, parse_command

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "config" / "commands.schema.json").read_text())
VIDEO = str(Path(__file__).resolve().parents[2] / "engines" / "samples" / "sample-scene.mp4")
LIMIT = 65_536
SECRET = "pa55-w0rd-XYZ"


def _parse(command) -> Parsed | Refused:
    return parse_command(json.dumps(command).encode(), LIMIT)


def test_each_valid_command_type_parses():
    commands = [
        {"id": "1", "type": "add_camera", "camera": {"id": "c", "source": VIDEO, "fps_cap": 5}},
        {"id": "2", "type": "update_camera", "camera_id": "c", "changes": {"fps_cap": 2}},
        {"id": "3", "type": "remove_camera", "camera_id": "c"},
        {"id": "4", "type": "enable_camera", "camera_id": "c"},
        {"id": "5", "type": "disable_camera", "camera_id": "c"},
        {"id": "6", "type": "set_fps_cap", "camera_id": "c", "fps_cap": None},
        {"id": "7", "type": "snapshot", "camera_id": "c"},
        {"id": "8", "type": "status"},
    ]
    assert {c["type"] for c in commands} == set(COMMAND_TYPES)
    for command in commands:
        parsed = _parse(command)
        assert isinstance(parsed, Parsed), parsed
        assert (parsed.id, parsed.type) == (command["id"], command["type"])
        jsonschema.validate(command, SCHEMA)


def test_refusals_name_the_problem():
    cases = [
        (b"x" * (LIMIT + 1), "payload_too_large", "65537 bytes"),
        (b'{"id": "a", "type"', "malformed_json", "not JSON"),
        (b"\xff\xfe", "malformed_json", "not UTF-8"),
        (b'{"id": "a", "type": "status", "n": NaN}', "malformed_json", "NaN"),
        (b"[" * 50_000 + b"]" * 50_000, "payload_too_large", "bytes"),
        (b"[" * 30_000 + b"]" * 30_000, "malformed_json", "not JSON"),
        (b'"status"', "not_an_object", "a string"),
        (b'{"type": "status"}', "invalid_id", "missing"),
        (b'{"id": 7, "type": "status"}', "invalid_id", "a number"),
        (b'{"id": "has space", "type": "status"}', "invalid_id", "printable"),
        (b'{"id": "a"}', "unknown_type", "missing"),
        (b'{"id": "a", "type": "reboot"}', "unknown_type", "'reboot'"),
        (b'{"id": "a", "type": "status", "extra": 1}', "invalid_field", "extra: unknown field"),
        (b'{"id": "a", "type": "set_fps_cap", "camera_id": "c", "fps_cap": 0}', "invalid_field", "fps_cap"),
        (b'{"id": "a", "type": "snapshot"}', "invalid_field", "camera_id: Field required"),
        (b'{"id": "a", "type": "add_camera", "camera": {"id": "bad/id", "source": "x.mp4"}}', "invalid_field",
         "camera.id"),
        (b'{"id": "a", "type": "update_camera", "camera_id": "c", "changes": {}}', "invalid_field", "changes"),
    ]
    for payload, code, text in cases:
        refused = parse_command(payload, LIMIT)
        assert isinstance(refused, Refused) and refused.code == code, (payload[:60], refused)
        assert text in refused.message, (payload[:60], refused.message)


def test_a_refused_camera_never_quotes_its_password():
    command = {"id": "a", "type": "add_camera",
               "camera": {"id": "c", "source": f"rtsp://admin:{SECRET}@cam.local/", "realtime": False}}
    refused = _parse(command)
    assert isinstance(refused, Refused) and refused.code == "invalid_field"
    assert "realtime" in refused.message and SECRET not in refused.message


_scalars = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False) | st.text(max_size=20)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                                           max_size=4), max_leaves=12)
_camera = st.fixed_dictionaries({"id": st.sampled_from(["c1", "c-2", "", "bad/id", "x" * 70]),
                                 "source": st.sampled_from([VIDEO, f"rtsp://u:{SECRET}@h/s", "nosuch://x", ""])},
                                optional={"fps_cap": st.one_of(st.none(), st.floats(-5, 300), st.text(max_size=3)),
                                          "enabled": _scalars, "realtime": st.booleans(), "colour": _scalars})
_commands = st.fixed_dictionaries(
    {"id": st.one_of(st.text(max_size=10), st.integers(), st.none()),
     "type": st.one_of(st.sampled_from(COMMAND_TYPES), st.text(max_size=8))},
    optional={"camera_id": st.one_of(st.text(max_size=70), _scalars), "camera": st.one_of(_camera, _json),
              "changes": st.one_of(_json, st.dictionaries(st.sampled_from(["fps_cap", "source", "id", "enabled"]),
                                                          _scalars, max_size=3)),
              "fps_cap": st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-3, 300)), "other": _json})


@settings(max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_commands)
def test_fuzzed_objects_parse_exactly_when_the_schema_accepts_them(command):
    result = _parse(command)
    assert isinstance(result, (Parsed, Refused))
    if isinstance(result, Refused):
        assert result.message and SECRET not in result.message
        return
    jsonschema.validate(command, SCHEMA)  # what the parser accepts, the published schema accepts
    assert result.raw == command


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=300) | _json.map(lambda v: json.dumps(v).encode()))
def test_fuzzed_bytes_are_refused_or_parsed_never_raise(payload):
    result = parse_command(payload, 200)
    assert isinstance(result, (Parsed, Refused))
    if len(payload) > 200:
        assert isinstance(result, Refused) and result.code == "payload_too_large"
