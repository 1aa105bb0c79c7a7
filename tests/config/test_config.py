"""Configuration loading, validation messages, env overrides, secrets, check-config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jetsentry.config import ConfigError, load_config
from jetsentry.config.source_uri import mask_uri, parse_source_uri

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "jetsentry.example.yaml"


def write_config(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def minimal(model_file: Path, **extra) -> dict:
    data = {
        "device_id": "dev1",
        "cameras": [{"id": "cam1", "source": "test://ball"}],
        "model": {"path": str(model_file)},
    }
    data.update(extra)
    return data


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jetsentry", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_example_config_documents_every_field_and_validates(tmp_path, model_file):
    data = yaml.safe_load(EXAMPLE.read_text())
    data["model"]["path"] = str(model_file)
    cfg = load_config(write_config(tmp_path, data), environ={})
    assert cfg.device_id == "jetson-01"
    # Every model field appears in the example, so the example is the reference.
    from jetsentry.config.models import AppConfig

    def fields(model, prefix=""):
        for name, info in model.model_fields.items():
            yield prefix + name
            ann = info.annotation
            if isinstance(ann, type) and hasattr(ann, "model_fields"):
                yield from fields(ann, prefix + name + ".")

    flat_example = yaml.safe_dump(yaml.safe_load(EXAMPLE.read_text()))
    for dotted in fields(AppConfig):
        assert dotted.split(".")[-1] + ":" in flat_example, f"{dotted} missing from the example config"


def test_unknown_key_wrong_type_bad_uri_and_missing_model_are_all_reported(tmp_path):
    data = {
        "device_id": "dev1",
        "cameras": [{"id": "cam1", "source": "ftp://host/x", "colour": "red"}],
        "model": {"path": str(tmp_path / "missing.onnx")},
        "mqtt": {"port": "eighty"},
    }
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, data), environ={})
    text = "\n".join(info.value.problems)
    assert "cameras[0].colour: unknown key" in text
    assert "cameras[0].source: unsupported source scheme 'ftp'" in text
    assert "model.path: model file not found" in text and "missing.onnx" in text
    assert "mqtt.port:" in text


def test_check_config_exits_2_and_names_each_field(tmp_path):
    data = {
        "device_id": "bad/id",
        "cameras": [{"id": "cam1", "source": "rtsp://"}],
        "model": {"path": str(tmp_path / "none.onnx"), "confidence": 2},
        "batching": {"max_batch": "four"},
    }
    result = run_cli("check-config", str(write_config(tmp_path, data)))
    assert result.returncode == 2
    for field in ("device_id", "cameras[0].source", "model.path", "model.confidence", "batching.max_batch"):
        assert f"  {field}:" in result.stderr, result.stderr


def test_check_config_ok(tmp_path, model_file):
    result = run_cli("check-config", str(write_config(tmp_path, minimal(model_file))))
    assert result.returncode == 0, result.stderr
    assert "OK (1 camera(s)" in result.stdout


def test_invalid_yaml_names_line(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("device_id: x\ncameras: [\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert "invalid YAML" in info.value.problems[0] and "line" in info.value.problems[0]


def test_env_overrides_nested_and_list_items(tmp_path, model_file):
    path = write_config(tmp_path, minimal(model_file))
    env = {"JETSENTRY__MQTT__HOST": "broker.lan", "JETSENTRY__MQTT__PORT": "8883",
           "JETSENTRY__CAMERAS__0__ENABLED": "false", "UNRELATED": "1"}
    cfg = load_config(path, environ=env)
    assert cfg.mqtt.host == "broker.lan" and cfg.mqtt.port == 8883
    assert cfg.cameras[0].enabled is False
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={"JETSENTRY__CAMERAS__5__ENABLED": "false"})
    assert "out of range" in str(info.value)


def test_relative_model_path_is_relative_to_config(tmp_path, model_file):
    data = minimal(model_file)
    data["model"]["path"] = model_file.name
    cfg = load_config(write_config(tmp_path, data), environ={})
    assert cfg.model.path == model_file


def test_secrets_from_file_and_credentials_directory_never_leak(tmp_path, model_file, monkeypatch):
    secret_file = tmp_path / "mqtt.pass"
    secret_file.write_text("s3cret-file\n")
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "cam-pass").write_text("s3cret-cred")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    data = minimal(model_file, mqtt={"username": "u", "password": {"file": str(secret_file)}})
    data["cameras"][0] = {"id": "c", "source": "rtsp://cam.local/s", "rtsp": {"username": "v",
                          "password": {"credential": "cam-pass"}}}
    cfg = load_config(write_config(tmp_path, data), environ={})
    assert cfg.mqtt.password.get_secret_value() == "s3cret-file"
    assert cfg.cameras[0].rtsp.password.get_secret_value() == "s3cret-cred"
    dumped = repr(cfg) + cfg.model_dump_json()
    assert "s3cret" not in dumped


def test_missing_credential_is_a_clear_error(tmp_path, model_file, monkeypatch):
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    data = minimal(model_file, mqtt={"password": {"credential": "nope"}})
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, data), environ={})
    assert "mqtt.password" in str(info.value) and "CREDENTIALS_DIRECTORY" in str(info.value)


def test_duplicate_camera_ids_rejected(tmp_path, model_file):
    data = minimal(model_file)
    data["cameras"].append({"id": "cam1", "source": "test://smpte"})
    with pytest.raises(ConfigError, match="used twice"):
        load_config(write_config(tmp_path, data), environ={})


@pytest.mark.parametrize(
    ("uri", "kind"),
    [("/videos/a.mp4", "file"), ("file:///v/a.mkv", "file"), ("rtsp://h:8554/x", "rtsp"),
     ("v4l2:///dev/video2", "v4l2"), ("csi://1", "csi"), ("test://ball", "test")],
)
def test_source_uri_kinds(uri, kind):
    assert parse_source_uri(uri).kind == kind


def test_a_test_source_carries_its_query_options_parsed_once():
    assert parse_source_uri("test://ball?width=320&fps=12").test_options == {"width": 320, "height": 480, "fps": 12}
    assert parse_source_uri("test://smpte").test_options == {"width": 640, "height": 480, "fps": 30}


def test_rtsp_password_masked():
    assert mask_uri("rtsp://admin:hunter2@10.0.0.5:554/s") == "rtsp://admin:***@10.0.0.5:554/s"
    assert mask_uri("rtsp://10.0.0.5/s") == "rtsp://10.0.0.5/s"


def test_relative_camera_path_is_relative_to_config_but_uris_are_kept(tmp_path, model_file):
    data = minimal(model_file)
    data["cameras"] = [{"id": "a", "source": "clips/a.mp4"}, {"id": "b", "source": "rtsp://h/s"}]
    cfg = load_config(write_config(tmp_path, data), environ={})
    assert cfg.cameras[0].source == str(tmp_path / "clips" / "a.mp4")
    assert cfg.cameras[1].source == "rtsp://h/s"


@pytest.mark.parametrize(
    ("mqtt", "message"),
    [({"reconnect_min_s": 5, "reconnect_max_s": 1}, "reconnect_max_s must be >= reconnect_min_s"),
     ({"password": "x"}, "password is set but username is not"),
     ({"topic_prefix": "a/#"}, "topic_prefix")],
)
def test_inconsistent_mqtt_settings(tmp_path, model_file, mqtt, message):
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, minimal(model_file, mqtt=mqtt)), environ={})
    assert any(p.startswith("mqtt") and message in p for p in info.value.problems), info.value.problems


def test_realtime_false_is_only_for_files(tmp_path, model_file):
    data = minimal(model_file)
    data["cameras"] = [{"id": "a", "source": "rtsp://h/s", "realtime": False}]
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, data), environ={})
    assert "cameras[0]: realtime: false applies only to video files" in "\n".join(info.value.problems)
    data["cameras"] = [{"id": "a", "source": "clips/a.mp4", "realtime": False}]
    assert load_config(write_config(tmp_path, data), environ={}).cameras[0].realtime is False
