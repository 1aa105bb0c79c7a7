"""RTSP credentials with every special character: parsed right, never shown.

A password is split off the URI before anything can echo it, whatever it holds ('/',
'?' and '#' used to end the host part early and show up in a "bad port" error), and
reaches the camera intact: a real RTSP server that requires it lets the stream through.
"""

from __future__ import annotations

import io
import os
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock
from urllib.parse import quote

import pytest
import yaml
from pydantic import ValidationError

from jetsentry.capture.pipeline import SinkOptions
from jetsentry.capture.session import CameraSession
from jetsentry.capture.slot import LatestFrameSlot
from jetsentry.capture.sources import RtspCredentials, plan_source, split_credentials
from jetsentry.cli import main
from jetsentry.config import load_config
from jetsentry.config.models import CameraConfig, CaptureConfig, RtspConfig
from jetsentry.config.source_uri import mask_uri, parse_source_uri
from tests.pipeline.daemon_process import DEFAULT_MODEL, DaemonProcess, daemon_config
from tests.support.rtsp_server import RtspServerProcess

# URI delimiters, percent, space, and the characters YAML gives a meaning to.
SPECIALS = ["/", "?", "#", "@", ":", "%", " ", "[", "]", "{", "}", '"', "'", "*", "!", "&", "|", ">", ",", "`",
            "\\", "=", ";", "+", "$", "~"]
EVERY_SPECIAL = "Pw" + "".join(SPECIALS) + "9"  # one password holding them all
FAST = CaptureConfig(backoff_base_s=0.1, backoff_cap_s=0.5, stall_timeout_s=3.0, connect_timeout_s=5.0)


def password_with(char: str) -> str:
    return f"pa{char}ss{char}1"


def check_config_in_process(path: Path, environ: dict[str, str] | None = None) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, environ or {}), redirect_stdout(out), redirect_stderr(err):
        rc = main(["check-config", str(path)])
    return rc, out.getvalue() + err.getvalue()


def write_camera_config(tmp_path: Path, source: str, **camera) -> Path:
    data = {"device_id": "dev", "cameras": [{"id": "cam", "source": source, **camera}],
            "model": {"path": str(DEFAULT_MODEL)}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


@pytest.mark.parametrize("char", SPECIALS)
def test_credentials_are_split_before_the_host_whatever_the_password_holds(char):
    password = password_with(char)
    for written in (password, quote(password, safe="")):  # as is, or percent-encoded
        source = parse_source_uri(f"rtsp://admin:{written}@10.0.0.5:8554/live/ch1?sub=1")
        assert (source.username, source.password) == ("admin", password)
        assert source.location == "rtsp://10.0.0.5:8554/live/ch1?sub=1"
        assert source.masked == "rtsp://admin:***@10.0.0.5:8554/live/ch1?sub=1"
        assert password not in repr(source) + str(source) + source.masked
        camera = CameraConfig(id="cam", source=source.raw)
        assert split_credentials(camera.source, camera) == (source.location, RtspCredentials("admin", password))
        assert password not in repr(camera) + camera.model_dump_json()


@pytest.mark.parametrize("char", SPECIALS)
def test_plan_carries_the_credentials_as_properties_not_in_the_description(char):
    password = password_with(char)
    camera = CameraConfig(id="cam", source=f"rtsp://admin:{password}@127.0.0.1:8554/cam")
    plan = plan_source(camera, CaptureConfig(decoder="cpu"), parse_source_uri(camera.source),
                       SinkOptions())
    assert plan.credentials.user == "admin" and plan.credentials.password == password
    assert 'location="rtsp://127.0.0.1:8554/cam"' in plan.description
    assert password not in plan.description + repr(plan)


@pytest.mark.parametrize("char", SPECIALS)
def test_check_config_accepts_the_uri_and_never_prints_the_password(tmp_path, char):
    password = password_with(char)
    rc, output = check_config_in_process(write_camera_config(tmp_path, f"rtsp://admin:{password}@cam.lan:554/s"))
    assert rc == 0, output
    assert password not in output


@pytest.mark.parametrize("char", SPECIALS)
@pytest.mark.parametrize("broken", ["rtsp://admin:{pw}@cam.lan:55x4/s", "rtsp://admin:{pw}@/s",
                                    "http://admin:{pw}@cam.lan/s", "rtsp://admin:{pw}@cam.lan:99999/s",
                                    "rtsp://:{pw}@cam.lan/s"])
def test_every_source_error_masks_the_password(tmp_path, char, broken):
    password = password_with(char)
    source = broken.format(pw=password)
    rc, output = check_config_in_process(write_camera_config(tmp_path, source))
    assert rc == 2
    assert "cameras[0]" in output
    assert password not in output
    with pytest.raises(ValidationError) as info:  # a direct caller's exception text too
        CameraConfig(id="cam", source=source)
    assert password not in str(info.value) + repr(info.value)


@pytest.mark.parametrize("char", SPECIALS)
def test_password_from_the_environment_is_taken_as_text(tmp_path, char):
    password = char + password_with(char)  # starting with the character: YAML's special case
    path = write_camera_config(tmp_path, "rtsp://cam.lan/s", rtsp={"username": "admin"})
    variable = {"JETSENTRY__CAMERAS__0__RTSP__PASSWORD": password}
    rc, output = check_config_in_process(path, variable)
    assert rc == 0, output
    assert password not in output
    camera = load_config(path, environ=variable).cameras[0]
    assert split_credentials(camera.source, camera)[1].password == password


def test_mask_uri_keeps_the_user_and_the_rest():
    assert mask_uri("rtsp://admin:hunter2@10.0.0.5:554/s") == "rtsp://admin:***@10.0.0.5:554/s"
    assert mask_uri("rtsp://admin:a/b?c#d@h/s?x=1") == "rtsp://admin:***@h/s?x=1"
    assert mask_uri("rtsp://10.0.0.5/s") == "rtsp://10.0.0.5/s"
    assert mask_uri("rtsp://h/path@x") == "rtsp://h/path@x"  # an '@' in the path without a password


@pytest.fixture
def auth_server():
    server = RtspServerProcess("--fps", "15", "--user", "viewer", "--password", EVERY_SPECIAL)
    server.start()
    yield server
    server.stop()


def test_run_streams_with_a_password_of_every_special_character_and_never_logs_it(
        auth_server, mosquitto_broker, tmp_path, monkeypatch):
    """Through `jetsentry run`: the password written in the URI, and given by an
    environment override, is what the server accepts; no log line shows it."""
    in_uri = auth_server.url.replace("rtsp://", f"rtsp://viewer:{EVERY_SPECIAL}@")
    cameras = [{"id": "uri", "source": in_uri},
               {"id": "env", "source": auth_server.url, "rtsp": {"username": "viewer"}}]
    config = daemon_config(tmp_path / "daemon.yaml", port=mosquitto_broker.port, cameras=cameras,
                           capture={"backoff_base_s": 0.1, "backoff_cap_s": 0.5})
    monkeypatch.setenv("JETSENTRY__CAMERAS__1__RTSP__PASSWORD", EVERY_SPECIAL)
    daemon = DaemonProcess(config).start()
    try:
        daemon.wait_log("camera uri: CONNECTING -> STREAMING", 40)
        daemon.wait_log("camera env: CONNECTING -> STREAMING", 40)
    finally:
        rc = daemon.terminate()
    assert rc == 0, daemon.log[-3000:]
    assert "viewer:***@127.0.0.1" in daemon.log
    for fragment in (EVERY_SPECIAL, EVERY_SPECIAL[:8], EVERY_SPECIAL[-8:]):
        assert fragment not in daemon.log


def test_a_wrong_password_is_an_auth_error_that_never_shows_it(auth_server, caplog):
    caplog.set_level("DEBUG", logger="jetsentry")
    wrong = EVERY_SPECIAL[::-1]
    camera = CameraConfig(id="cam", source=auth_server.url, rtsp=RtspConfig(username="viewer", password=wrong))
    session = CameraSession(camera, FAST, LatestFrameSlot())
    session.start()
    try:
        deadline = time.monotonic() + 20
        while session.last_error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (session.last_error or "").startswith("authentication failed"), session.last_error
    finally:
        assert session.stop()
    assert wrong not in caplog.text + session.last_error
