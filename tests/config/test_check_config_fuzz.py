"""check-config under fuzzing: mutated documents, mutated bytes, environment overrides.

Whatever the input, `jetsentry check-config` exits 0 or 2 with one line per problem and
never raises; a config it accepts loads into a model whose names MQTT and GStreamer can
take.  In-process through jetsentry.cli.main, so a few thousand cases stay quick; the
inputs that could block (FIFOs, devices) run in a subprocess with a timeout.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jetsentry.cli import main
from jetsentry.config import ConfigError, load_config
from jetsentry.publish import detections_topic, status_topic

FUZZ = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
# Longest line a problem report may have: a field path plus a message, values cut.
MAX_PROBLEM_LINE = 500


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fuzz")
    (path / "m.onnx").write_bytes(b"config validation only checks that the model file exists")
    (path / "secret.txt").write_text("s3cret\n")
    return path


def base_config(workdir: Path) -> dict:
    return {
        "device_id": "dev1",
        "cameras": [
            {"id": "cam1", "source": "rtsp://viewer:p%2Fw@192.0.2.1:554/s", "rtsp": {"latency_ms": 100}},
            {"id": "cam2", "source": "test://ball?width=160", "fps_cap": 5, "decoder": "cpu"},
        ],
        "capture": {"decoder": "auto", "backoff_base_s": 0.5},
        "model": {"path": str(workdir / "m.onnx"), "confidence": 0.3, "classes": [0, "person"],
                  "parallel_runs": "auto"},
        "batching": {"max_batch": 4, "prepare_ahead": "auto"},
        "tracker": {"enabled": True, "track_buffer": 30},
        "mqtt": {"host": "broker.lan", "port": 1883, "client_id": "edge-1", "topic_prefix": "site/a",
                 "username": "edge", "password": {"file": str(workdir / "secret.txt")}},
        "logging": {"level": "INFO"},
    }


def check_config(path: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(["check-config", str(path)])
    return rc, out.getvalue(), err.getvalue()


def assert_clean_outcome(path: Path, environ: dict[str, str] | None = None) -> None:
    """Exit 0 with a usable config, or 2 with short problem lines naming where."""
    with mock.patch.dict(os.environ, environ or {}):
        rc, out, err = check_config(path)
    assert rc in (0, 2), (rc, out, err)
    assert "Traceback" not in out + err
    if rc == 2:
        lines = err.splitlines()
        assert lines and lines[0].endswith("error(s)"), err
        assert all(len(line) <= MAX_PROBLEM_LINE for line in lines), err[:2000]
        assert out == ""
        return
    assert "OK (" in out
    # A valid config may still name files or elements this machine lacks: one warning line each.
    assert all(line.startswith("warning: ") for line in err.splitlines()), err[:2000]
    assert all(len(line) <= MAX_PROBLEM_LINE for line in err.splitlines()), err[:2000]
    with mock.patch.dict(os.environ, environ or {}):
        cfg = load_config(path)
    # What check-config accepts, `run` can use: every topic and client id is valid.
    for camera in cfg.cameras:
        detections_topic(cfg.mqtt.topic_prefix, cfg.device_id, camera.id)
    status_topic(cfg.mqtt.topic_prefix, cfg.device_id)
    client_id = cfg.mqtt.client_id or f"jetsentry-{cfg.device_id}"
    assert len(client_id.encode("utf-8")) <= 65535


# ----------------------------------------------------------------- mutated documents

texts = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.sampled_from(["", " ", "\0", "a\0b", "\ud800", "\ufffe", "\x1b[31m", "null", "~", "*x", "&a", "!t", "[", "{",
                     "#c", "@", "rtsp://u:p/?#@h:1/s", "rtsp://:p@h/s", "rtsp://h:0/s", "rtsp://[::1/s",
                     "rtsp://h:99999/s", "csi://-1", "test://a b", "v4l2:///tmp/x", "file://", "http://u:pw@h/",
                     "x" * 5000, "é" * 300, "/" * 300, "$SYS", "a/+/b", "a//b", "mqtt://broker", "a..b",
                     "auto", "nvv4l2decoder ! fakesink", "onnxruntime-cuda"]),
)
scalars = st.one_of(texts, st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(texts, inner, max_size=4)), max_leaves=12)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, (*prefix, index))


@st.composite
def mutated_configs(draw, workdir: Path):
    data = base_config(workdir)
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(texts)] = draw(values)
        else:
            parent.append(draw(values))
    return data


@settings(FUZZ, max_examples=1000)
@given(data=st.data())
def test_mutated_documents_exit_0_or_2(workdir, data):
    config = data.draw(mutated_configs(workdir))
    path = workdir / "mutated.yaml"
    try:
        text = yaml.safe_dump(config, allow_unicode=data.draw(st.booleans()))
    except yaml.YAMLError:  # keys the emitter cannot write
        return
    path.write_text(text, encoding="utf-8")
    assert_clean_outcome(path)


# ----------------------------------------------------------------- mutated bytes

@st.composite
def mutated_bytes(draw, original: bytes):
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "repeat", "prefix"]))
        chunk = draw(st.one_of(st.binary(min_size=1, max_size=8),
                               st.sampled_from([b"\xff", b"\xfe\xff", b"\xef\xbb\xbf", b"\0", b"\t", b"[" * 200,
                                                b"{a: " * 120, b"&a ", b"*a", b"!!python/object:os.system",
                                                b"\ndevice_id: x\n", b"<<: *a\n", b"%YAML 1.1\n---\n", b"\r",
                                                b"\xed\xa0\x80", b'"\\ud800"', b"? [a]\n: b\n"])))
        if kind == "insert":
            data[at:at] = chunk
        elif kind == "delete":
            del data[at:at + len(chunk)]
        elif kind == "replace":
            data[at:at + len(chunk)] = chunk
        elif kind == "repeat":
            line_start = data.rfind(b"\n", 0, at) + 1
            line_end = data.find(b"\n", at)
            line = data[line_start:line_end if line_end >= 0 else len(data)]
            data[line_start:line_start] = line + b"\n"
        else:
            data[0:0] = chunk
    return bytes(data)


@settings(FUZZ, max_examples=1000)
@given(data=st.data())
def test_mutated_bytes_exit_0_or_2(workdir, data):
    original = yaml.safe_dump(base_config(workdir)).encode()
    path = workdir / "bytes.yaml"
    path.write_bytes(data.draw(mutated_bytes(original)))
    assert_clean_outcome(path)


# ----------------------------------------------------------------- environment overrides

env_paths = st.sampled_from([
    "DEVICE_ID", "CAMERAS__0__SOURCE", "CAMERAS__0__RTSP__PASSWORD", "CAMERAS__0__RTSP__USERNAME",
    "CAMERAS__1__FPS_CAP", "CAMERAS__0__ENABLED", "CAMERAS__5__ID", "CAMERAS", "MODEL__PARALLEL_RUNS",
    "MODEL__CLASSES", "MODEL__PATH", "MQTT__PASSWORD", "MQTT__PASSWORD__FILE", "MQTT__PORT", "MQTT__HOST",
    "MQTT__CLIENT_ID", "MQTT__TOPIC_PREFIX", "MQTT", "MQTT__HOST__X", "LOGGING__LEVEL", "TRACKER__ENABLED",
    "UNKNOWN", "MQTT__PASWORD", "", "__",
])
env_values = st.one_of(st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\0"), max_size=30),
                       st.sampled_from(["[", "{a: [", '"', "*a", "!x", "@", "#x", "null", "~", "0123", "1e999",
                                        "[" * 500, "x" * 70000, "\udcff", "yes", "{file: /nonexistent}"]))


@settings(FUZZ, max_examples=600)
@given(overrides=st.dictionaries(env_paths, env_values, max_size=3))
def test_environment_overrides_exit_0_or_2(workdir, overrides):
    path = workdir / "env.yaml"
    if not path.exists():
        path.write_text(yaml.safe_dump(base_config(workdir)))
    environ = {f"JETSENTRY__{key}": value for key, value in overrides.items()}
    assert_clean_outcome(path, environ)


# ----------------------------------------------------------------- inputs that could block

def _check_config_subprocess(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jetsentry", "check-config", str(path)], capture_output=True,
                          text=True, timeout=30, env=env)


@pytest.mark.parametrize("kind", ["fifo_config", "fifo_secret", "fifo_credential", "device_config",
                                  "device_secret", "directory_secret"])
def test_special_files_are_refused_without_blocking(tmp_path, kind):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    target = {"fifo": str(fifo), "device": "/dev/zero", "directory": str(tmp_path)}[kind.split("_")[0]]
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    data = {"device_id": "d", "cameras": [{"id": "c", "source": "test://ball"}], "model": {"path": str(model)},
            "mqtt": {"username": "u", "password": {"file": target}}}
    env = dict(os.environ)
    if kind == "fifo_credential":
        env["CREDENTIALS_DIRECTORY"] = str(tmp_path)
        data["mqtt"]["password"] = {"credential": "pipe"}
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump(data))
    if kind.endswith("_config"):
        config = Path(target)
    result = _check_config_subprocess(config, env)  # a blocking read times out here
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    expected = {"fifo": "a FIFO", "device": "a character device", "directory": "a directory"}[kind.split("_")[0]]
    assert f"it is {expected}, not a regular file" in result.stderr, result.stderr
    if not kind.endswith("_config"):
        assert "mqtt.password: cannot read secret from" in result.stderr
