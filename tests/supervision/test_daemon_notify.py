"""The daemon's sd_notify messages on a real AF_UNIX datagram socket: real daemon, broker and video.

The engine is the real one behind `WedgeableEngine` (tests/support/wedgeable_engine.py), a test
fake whose inference hangs while a switch file exists.
"""

from __future__ import annotations

import time

import pytest

from tests.pipeline.daemon_process import SAMPLE_VIDEO, DaemonProcess, daemon_config
from tests.support.notify_socket import NotifySocket

WATCHDOG_USEC = 2_000_000  # 2 s: deadlines are the stage floors (5 s for the engine), pings every 0.5 s


@pytest.fixture
def notify_socket(tmp_path):
    with NotifySocket(tmp_path / "notify.sock") as sock:
        yield sock


def start_daemon(tmp_path, broker, notify_socket, *, cameras, watchdog_usec=WATCHDOG_USEC) -> DaemonProcess:
    config = daemon_config(tmp_path / "cfg.yaml", port=broker.port, cameras=cameras)
    env = {"NOTIFY_SOCKET": notify_socket.address, "JETSENTRY_TEST_WEDGE": str(tmp_path / "wedge")}
    if watchdog_usec:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
    return DaemonProcess(config, module="tests.support.wedgeable_engine", env=env).start()


@pytest.fixture
def daemons():
    started: list[DaemonProcess] = []
    yield started
    for daemon in started:
        daemon.kill()


def field_values(messages, name: str) -> list[str]:
    return [m.fields[name] for m in messages if name in m]


def test_ready_only_after_warm_up_and_cameras_started_then_stopping_on_sigterm(
    tmp_path, mosquitto_broker, notify_socket, daemons
):
    switch = tmp_path / "wedge"
    switch.write_text("hang")  # the warm-up inference hangs until the switch is removed
    cameras = [{"id": "sample", "source": str(SAMPLE_VIDEO), "fps_cap": 10},
               {"id": "second", "source": str(SAMPLE_VIDEO), "fps_cap": 5}]
    daemon = start_daemon(tmp_path, mosquitto_broker, notify_socket, cameras=cameras)
    daemons.append(daemon)
    alive = lambda: daemon.proc.poll() is None  # noqa: E731

    notify_socket.wait_for(lambda ms: "warming up the engine" in field_values(ms, "STATUS"), 60,
                           "STATUS=warming up the engine", alive)
    deadline = time.monotonic() + 60
    while not switch.with_suffix(".entered").exists():
        assert alive() and time.monotonic() < deadline, daemon.log[-3000:]
        time.sleep(0.02)
    time.sleep(1.5)  # the warm-up hangs: whatever the daemon does meanwhile, it must not say READY
    assert not notify_socket.with_field("READY"), notify_socket.messages
    assert "starting capture" not in daemon.log

    switch.unlink()
    messages = notify_socket.wait_for(lambda ms: any("READY" in m for m in ms), 30, "READY=1", alive)
    assert switch.with_suffix(".runs").read_text().count("ran") >= 1  # the warm-up inference ran first
    assert "camera sample: starting capture" in daemon.log and "camera second: starting capture" in daemon.log
    statuses = field_values(messages, "STATUS")
    assert statuses.index("loading model jetsentry-default.onnx") < statuses.index("warming up the engine")
    ready = next(m for m in messages if "READY" in m)
    assert ready.fields["READY"] == "1" and "cameras streaming" in ready.fields["STATUS"]
    assert not any("WATCHDOG" in m for m in messages[: messages.index(ready)])  # pings start with READY

    # STATUS is kept current: the cameras come up and frames are counted.
    notify_socket.wait_for(
        lambda ms: any(s.startswith("2/2 cameras streaming") and not s.startswith("2/2 cameras streaming, 0.0 fps")
                       for s in field_values(ms, "STATUS")), 60, "STATUS with both cameras streaming and frames/s",
        alive)
    notify_socket.wait_for(lambda ms: len(field_values(ms, "WATCHDOG")) >= 3, 30, "watchdog pings", alive)

    assert daemon.terminate() == 0
    messages = notify_socket.messages
    stopping = [m for m in messages if "STOPPING" in m]
    assert len(stopping) == 1 and stopping[0].fields["STATUS"] == "stopping: SIGTERM"
    after = messages[messages.index(stopping[0]) + 1:]
    assert not any("WATCHDOG" in m for m in after), "no watchdog ping after STOPPING=1"


def test_watchdog_pings_stop_while_inference_is_wedged_and_resume_when_it_recovers(
    tmp_path, mosquitto_broker, notify_socket, daemons
):
    switch = tmp_path / "wedge"
    cameras = [{"id": "sample", "source": str(SAMPLE_VIDEO), "fps_cap": 10}]
    daemon = start_daemon(tmp_path, mosquitto_broker, notify_socket, cameras=cameras)
    daemons.append(daemon)
    alive = lambda: daemon.proc.poll() is None  # noqa: E731
    notify_socket.wait_for(lambda ms: len(field_values(ms, "WATCHDOG")) >= 3, 60, "watchdog pings", alive)

    switch.write_text("hang")  # the next inference hangs: the engine stops beating
    deadline = time.monotonic() + 30
    while not switch.with_suffix(".entered").exists():
        assert alive() and time.monotonic() < deadline, daemon.log[-3000:]
        time.sleep(0.02)
    wedged_at = time.monotonic()
    messages = notify_socket.wait_for(
        lambda ms: any(s.startswith("WEDGED: engine silent") for s in field_values(ms, "STATUS")), 30,
        "STATUS naming the wedged engine", alive)
    first_wedged = next(m for m in messages if m.fields.get("STATUS", "").startswith("WEDGED: engine"))
    time.sleep(2.0)  # the watchdog interval: systemd would kill the daemon about now
    during = [m for m in notify_socket.messages if m.at >= first_wedged.at]
    assert not any("WATCHDOG" in m for m in during), "no ping while the engine is wedged"
    assert any("WATCHDOG" in m for m in messages if m.at <= wedged_at), "pings came before the wedge"
    assert "stage(s) wedged (engine silent" in daemon.log

    switch.unlink()  # the engine returns: pings resume
    released = time.monotonic()
    notify_socket.wait_for(lambda ms: any("WATCHDOG" in m and m.at > released for m in ms), 30,
                           "watchdog pings after the engine recovered", alive)
    daemon.wait_log("every stage beats again (engine recovered)", 10)
    assert daemon.terminate() == 0


def test_without_watchdog_usec_status_only_and_abstract_socket_address(tmp_path, mosquitto_broker, daemons):
    with NotifySocket(tmp_path / "unused", abstract=True) as sock:
        cameras = [{"id": "sample", "source": str(SAMPLE_VIDEO), "fps_cap": 10}]
        daemon = start_daemon(tmp_path, mosquitto_broker, sock, cameras=cameras, watchdog_usec=None)
        daemons.append(daemon)
        alive = lambda: daemon.proc.poll() is None  # noqa: E731
        sock.wait_for(lambda ms: any(s.startswith("1/1 cameras streaming") for s in field_values(ms, "STATUS")),
                      60, "STATUS with the camera streaming", alive)
        assert daemon.terminate() == 0
        messages = sock.messages
    assert len(field_values(messages, "READY")) == 1
    assert not field_values(messages, "WATCHDOG"), "no pings when systemd asked for none"
    assert field_values(messages, "STOPPING") == ["1"]
