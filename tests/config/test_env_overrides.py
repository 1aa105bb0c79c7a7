"""JETSENTRY__* overrides: text fields take the value as it is, other fields read YAML,
and an unusable value is named by its variable, never shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jetsentry.config import ConfigError, load_config
from jetsentry.config.env import field_annotation, takes_text
from jetsentry.config.models import AppConfig

# Each of these used to crash (a YAML traceback quoting it), vanish (#..., null, ~) or
# turn into a number.
PASSWORDS = ["[abc", "{abc", '"abc', "'abc", "*abc", "!abc", "@abc", "&abc", "%abc", "|abc", ">abc", "`abc",
             "#abc", "null", "~", "", "1234", "0123", "0x1F", "1e3", "true", "no", "- a", "a: b", "[a, b]",
             "{file: /etc/passwd}", " padded ", "--- x", "...", "é€😀"]


@pytest.fixture
def config(tmp_path: Path, model_file: Path) -> Path:
    data = {"device_id": "dev", "cameras": [{"id": "cam", "source": "rtsp://cam.lan/s"}],
            "model": {"path": str(model_file)}, "mqtt": {"username": "edge"}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("password", PASSWORDS)
def test_a_password_is_taken_exactly_as_given(config, password):
    cfg = load_config(config, environ={"JETSENTRY__MQTT__PASSWORD": password,
                                       "JETSENTRY__CAMERAS__0__RTSP__USERNAME": "viewer",
                                       "JETSENTRY__CAMERAS__0__RTSP__PASSWORD": password})
    assert cfg.mqtt.password.get_secret_value() == password
    assert cfg.cameras[0].rtsp.password.get_secret_value() == password


@pytest.mark.parametrize("value", ["0123", "null", "[x", "#x", "yes"])
def test_other_text_fields_are_taken_as_given_too(config, value):
    cfg = load_config(config, environ={"JETSENTRY__MQTT__CLIENT_ID": value, "JETSENTRY__MQTT__USERNAME": value})
    assert cfg.mqtt.client_id == value and cfg.mqtt.username == value


def test_numbers_booleans_lists_and_choices_are_read_as_yaml(config):
    cfg = load_config(config, environ={
        "JETSENTRY__MQTT__PORT": "8883", "JETSENTRY__MQTT__QOS": "0", "JETSENTRY__CAMERAS__0__ENABLED": "no",
        "JETSENTRY__CAMERAS__0__FPS_CAP": "null", "JETSENTRY__MODEL__CLASSES": "[0, person]",
        "JETSENTRY__MODEL__PARALLEL_RUNS": "2", "JETSENTRY__LOGGING__LEVEL": "DEBUG",
        "JETSENTRY__CAMERAS__0__RTSP__TRANSPORT": "udp", "JETSENTRY__BATCHING__MAX_WAIT_MS": "2.5",
    })
    assert cfg.mqtt.port == 8883 and cfg.mqtt.qos == 0 and cfg.cameras[0].enabled is False
    assert cfg.cameras[0].fps_cap is None and cfg.model.classes == [0, "person"]
    assert cfg.model.backend.parallel_runs == 2 and cfg.logging.level == "DEBUG"
    assert cfg.cameras[0].rtsp.transport == "udp" and cfg.batching.max_wait_ms == 2.5


def test_a_secret_file_can_be_named_from_the_environment(config, tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("[from-file\n")
    cfg = load_config(config, environ={"JETSENTRY__MQTT__PASSWORD__FILE": str(secret)})
    assert cfg.mqtt.password.get_secret_value() == "[from-file"


@pytest.mark.parametrize(("path", "text"), [
    (["mqtt", "password"], True), (["mqtt", "password", "file"], True), (["cameras", "3", "source"], True),
    (["model", "path"], True), (["logging", "level"], True), (["mqtt", "port"], False), (["mqtt", "qos"], False),
    (["model", "parallel_runs"], False), (["model", "classes"], False), (["cameras"], False), (["mqtt"], False),
    (["cameras", "0", "fps_cap"], False), (["no", "such", "field"], True),
])
def test_the_field_type_decides(path, text):
    assert takes_text(field_annotation(AppConfig, path)) is text


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("JETSENTRY__MQTT__PORT", "[8883-secret", "environment JETSENTRY__MQTT__PORT"),
    ("JETSENTRY__MQTT__PORT", "secret-port", "mqtt.port: Input should be a valid integer"),
    ("JETSENTRY__MQTT__PASWORD", "secret-typo", "mqtt.pasword: unknown key"),
    ("JETSENTRY__MQTT__PASSWORD", "x" * 70_000 + "-secret", "mqtt.password: the password is 70007 bytes long"),
    ("JETSENTRY__MQTT__CLIENT_ID", "bad\x07secret", "mqtt.client_id: client id contains the control character"),
    ("JETSENTRY__CAMERAS__4__ENABLED", "secret", "list index '4' out of range"),
])
def test_an_unusable_value_is_named_by_its_variable_and_never_shown(config, variable, value, expected):
    with pytest.raises(ConfigError) as info:
        load_config(config, environ={variable: value})
    text = str(info.value)
    assert expected in text, text
    assert variable in text and "secret" not in text


def test_check_config_reports_a_bad_override_on_stderr_without_a_traceback(config):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path),
           "JETSENTRY__MQTT__KEEPALIVE_S": "{[secret", "JETSENTRY__MQTT__PASSWORD": "[secret-but-fine"}
    result = subprocess.run([sys.executable, "-m", "jetsentry", "check-config", str(config)],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert "JETSENTRY__MQTT__KEEPALIVE_S" in result.stderr and "secret" not in result.stderr
