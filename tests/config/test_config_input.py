"""Bad configuration files and values: exit 2 and one line naming where, never a
traceback, a hang, a silent acceptance, or a value that `run` cannot use."""

from __future__ import annotations

import codecs
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from jetsentry.config import ConfigError, load_config
from jetsentry.config.files import CONFIG_MAX_BYTES
from jetsentry.config.models import MqttConfig
from jetsentry.config.mqtt_names import TOPIC_PREFIX_MAX_BYTES
from jetsentry.publish import MqttPublisher, detections_topic
from tests.pipeline.daemon_process import DEFAULT_MODEL

GOOD = (f"device_id: dev\ncameras:\n  - id: cam\n    source: test://ball\nmodel:\n  path: {DEFAULT_MODEL}\n")


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    return info.value.problems


def write(tmp_path: Path, content: str | bytes, name: str = "cfg.yaml") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jetsentry", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("content", "expected"), [
    (GOOD.encode() + b"# caf\xe9\n", "line 7, column 6: byte 0xe9 is not UTF-8"),
    (GOOD.encode("utf-16"), "the file is UTF-16 text (byte-order mark); save it as UTF-8"),
    (codecs.BOM_UTF32_LE + GOOD.encode("utf-32-le"), "the file is UTF-32 text"),
    (GOOD.encode("utf-16-le"), "line 1, column 2: the character U+0000 is not allowed in YAML"),
    (b"device_id: dev\x01\n", "line 1, column 15: the character U+0001 is not allowed in YAML"),
    (b"device_id: dev\ncameras:\n\t- id: cam\n", "line 3, column 1: invalid YAML"),
])
def test_encodings_and_characters_are_named_with_line_and_column(tmp_path, content, expected):
    problems = problems_of(write(tmp_path, content))
    assert len(problems) == 1 and expected in problems[0], problems


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    assert load_config(write(tmp_path, codecs.BOM_UTF8 + GOOD.encode()), environ={}).device_id == "dev"


@pytest.mark.parametrize(("content", "expected"), [
    (GOOD + "tracker: " + "[" * 1000 + "]" * 1000 + "\n", "line 7, column 41: nesting deeper than 32 levels"),
    (GOOD + "tracker: " + "{a: " * 400 + "1" + "}" * 400 + "\n", "nesting deeper than 32 levels"),
    (GOOD + "tracker: &a [*a]\n", "nesting deeper than 32 levels (YAML aliases)"),
    (GOOD + "".join(f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 9) if i else '1'}]\n" for i in range(9)),
     "expands to more than 100000 values"),
])
def test_deep_nesting_and_alias_bombs_are_refused(tmp_path, content, expected):
    problems = problems_of(write(tmp_path, content))
    assert expected in problems[0], problems


@pytest.mark.parametrize(("content", "expected"), [
    (GOOD + "device_id: other\n", "line 7, column 1: duplicate key 'device_id' (first at line 1)"),
    (GOOD.replace("    source:", "    id: again\n    source:"), "line 4, column 5: duplicate key 'id' (first at line 3)"),
    (GOOD + "mqtt: {port: 1, port: 2}\n", "duplicate key 'port'"),
])
def test_duplicate_keys_are_errors(tmp_path, content, expected):
    problems = problems_of(write(tmp_path, content))
    assert len(problems) == 1 and expected in problems[0], problems


def test_merge_keys_may_override_what_they_merge(tmp_path):
    cameras = ("cameras:\n  - {id: a, source: rtsp://h/a, rtsp: &rtsp {transport: udp, latency_ms: 100}}\n"
               "  - {id: b, source: rtsp://h/b, rtsp: {<<: *rtsp, latency_ms: 50}}\n")
    cfg = load_config(write(tmp_path, GOOD.replace("cameras:\n  - id: cam\n    source: test://ball\n", cameras)),
                      environ={})
    assert (cfg.cameras[1].rtsp.transport, cfg.cameras[1].rtsp.latency_ms) == ("udp", 50)


@pytest.mark.parametrize("where", ["config", "model", "secret"])
def test_over_long_paths_are_refused_without_echoing_them(tmp_path, where):
    long_path = "/tmp/" + "x" * 5000
    content = GOOD
    config = write(tmp_path, content)
    if where == "model":
        config = write(tmp_path, content.replace(str(DEFAULT_MODEL), long_path))
    elif where == "secret":
        config = write(tmp_path, content + f"mqtt: {{username: u, password: {{file: {long_path}}}}}\n")
    else:
        config = Path(long_path)
    result = run_cli("check-config", str(config))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "the path is 5005 bytes long; at most 4095 are allowed" in result.stderr
    assert len(result.stderr) < 1000  # the path is cut, not printed whole


def test_a_nul_in_a_path_is_refused(tmp_path):
    problems = problems_of(write(tmp_path, GOOD.replace(f"path: {DEFAULT_MODEL}", 'path: "/models/a\\0b.onnx"')))
    assert problems == ["model.path: the path contains a NUL character (U+0000)"]


def test_an_oversized_file_is_refused_before_parsing(tmp_path):
    path = write(tmp_path, GOOD + "tracker: {x: '" + "x" * (10 << 20) + "'}\n")
    problems = problems_of(path)
    assert problems == [f"cannot read file: it is {path.stat().st_size} bytes long; at most {CONFIG_MAX_BYTES} are read"]


def test_a_long_value_is_cut_in_the_message(tmp_path):
    problems = problems_of(write(tmp_path, GOOD.replace("device_id: dev", "device_id: " + "x" * 100_000)))
    assert len(problems) == 1 and problems[0].startswith("device_id: device_id 'xxxx")
    assert "(100000 characters)" in problems[0] and len(problems[0]) < 300


@pytest.mark.parametrize(("mqtt", "expected"), [
    ({"topic_prefix": "site\0a"}, "mqtt.topic_prefix: topic prefix contains a NUL character (U+0000)"),
    ({"topic_prefix": "$SYS/x"}, "mqtt.topic_prefix: topic prefix '$SYS/x' must be non-empty"),
    ({"topic_prefix": "é" * 40_000}, "mqtt.topic_prefix: topic prefix is 80000 bytes long; at most 65394"),
    ({"client_id": "c" * 70_000}, "mqtt.client_id: client id is 70000 bytes long; at most 65535 are allowed"),
    ({"client_id": "edge\ufffe"}, "mqtt.client_id: client id contains the Unicode noncharacter U+FFFE"),
    ({"username": "u\nx"}, "mqtt.username: the user name contains the control character U+000A"),
    ({"host": "mqtt://broker.lan"}, "mqtt.host: 'mqtt://broker.lan' is a URL or path"),
    ({"host": "broker..lan"}, "mqtt.host: host 'broker..lan' is not a valid host name"),
    ({"host": "b" * 300}, "mqtt.host: host"),
    ({"password": 1234, "username": "u"}, "mqtt.password: is a YAML number or boolean, not text"),
])
def test_mqtt_values_run_cannot_use_are_refused(tmp_path, mqtt, expected):
    problems = problems_of(write(tmp_path, GOOD + yaml.safe_dump({"mqtt": mqtt})))
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize(("mqtt", "expected"), [
    ({"topic_prefix": "site\0a"}, "mqtt.topic_prefix: topic prefix contains a NUL character (U+0000)"),
    ({"client_id": "c" * 70_000}, "mqtt.client_id: client id is 70000 bytes long; at most 65535 are allowed"),
])
def test_values_that_crashed_run_are_refused_by_check_config_and_run_alike(tmp_path, mqtt, expected):
    path = write(tmp_path, GOOD + yaml.safe_dump({"mqtt": mqtt}))
    for command in (["check-config", str(path)], ["run", "--config", str(path)]):
        result = run_cli(*command)
        assert result.returncode == 2, (command, result.stderr[-2000:])
        assert result.stdout == "" and "Traceback" not in result.stderr
        assert f"  {expected}" in result.stderr, result.stderr[:2000]


@pytest.mark.parametrize(("camera", "expected"), [
    ({"decoder": "avdec_h264 ! filesink location=/tmp/x"}, "cameras[0].decoder: decoder 'avdec_h264 ! filesink"),
    ({"source": "test://ball ! filesink"}, "cameras[0].source: test pattern must be a videotestsrc pattern"),
    ({"source": "csi://-1"}, "cameras[0].source: csi sensor id must be an integer from 0 to 255"),
    ({"source": "test://ball?width=abc"}, "cameras[0].source: test source width must be an integer, got 'abc'"),
    ({"source": "test://ball?fps=0"}, "cameras[0].source: test source fps out of range: 0"),
    ({"source": "test://ball?heigth=200"}, "cameras[0].source: test source has no option 'heigth'"),
    ({"source": "/videos/a\nb.mp4"}, "cameras[0].source: the source contains the control character U+000A"),
    ({"source": "rtsp://:pw@cam/s"}, "cameras[0]: password is set but username is not"),
    ({"source": "rtsp://cam/s", "rtsp": {"username": "a:b"}}, "cameras[0].rtsp.username: an RTSP user name cannot"),
])
def test_camera_values_run_cannot_use_are_refused(tmp_path, camera, expected):
    data = yaml.safe_load(GOOD)
    data["cameras"][0].update(camera)
    problems = problems_of(write(tmp_path, yaml.safe_dump(data)))
    assert any(p.startswith(expected) for p in problems), problems


def test_mqtt_limits_are_the_specification_s_and_a_broker_takes_them(mosquitto_broker):
    longest_id = "c" * 65_535
    cfg = MqttConfig(host="127.0.0.1", port=mosquitto_broker.port, client_id=longest_id,
                     topic_prefix="p" * TOPIC_PREFIX_MAX_BYTES)
    topic = detections_topic(cfg.topic_prefix, "d" * 64, "c" * 64)
    assert len(topic.encode()) == 65_535
    publisher = MqttPublisher(cfg, "dev")
    publisher.start()
    try:
        deadline = time.monotonic() + 10
        while not publisher.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert publisher.connected
    finally:
        publisher.stop()
