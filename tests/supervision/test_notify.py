"""sd_notify in the standard library, on real AF_UNIX datagram sockets."""

from __future__ import annotations

import os
import threading

import pytest

from jetsentry.infer.engine_cache import BuildEnvironment, BuildSettings, EngineCache, EngineKey
from jetsentry.supervision import notify
from jetsentry.supervision.notify import SystemdNotifier, extended_timeout, watchdog_interval_s
from tests.support.notify_socket import NotifySocket


@pytest.fixture
def sock(tmp_path):
    with NotifySocket(tmp_path / "notify.sock") as listener:
        yield listener


def test_messages_reach_a_path_socket_as_newline_separated_assignments(sock):
    notifier = SystemdNotifier.from_environment({"NOTIFY_SOCKET": sock.address})
    assert notifier.enabled
    assert notifier.ready("2/2 cameras\nstreaming")
    assert notifier.watchdog()
    assert notifier.stopping("stopping: SIGTERM")
    assert not notifier.stopping("stopping: again")  # once per process
    assert notifier.extend_timeout(40)
    messages = sock.wait_for(lambda ms: len(ms) == 4, 5, "four messages")
    assert [m.fields for m in messages] == [
        {"READY": "1", "STATUS": "2/2 cameras streaming"},  # STATUS is one line
        {"WATCHDOG": "1"},
        {"STOPPING": "1", "STATUS": "stopping: SIGTERM"},
        {"EXTEND_TIMEOUT_USEC": "40000000"},
    ]


def test_abstract_namespace_address(tmp_path):
    with NotifySocket(tmp_path / "unused", abstract=True) as listener:
        assert listener.address.startswith("@")
        notifier = SystemdNotifier(listener.address)
        assert notifier.status("hello")
        assert listener.wait_for(lambda ms: ms, 5, "a message")[0].fields == {"STATUS": "hello"}


def test_without_notify_socket_every_call_does_nothing():
    notifier = SystemdNotifier.from_environment({})
    assert not notifier.enabled
    assert not notifier.ready("x") and not notifier.watchdog() and not notifier.status("x")


def test_a_socket_that_went_away_is_logged_once_and_never_raises(tmp_path, caplog):
    notifier = SystemdNotifier(str(tmp_path / "gone.sock"))
    assert not notifier.status("one") and not notifier.status("two")
    assert len([r for r in caplog.records if "cannot notify systemd" in r.getMessage()]) == 1


def test_relative_or_vsock_addresses_are_refused_with_a_warning(caplog):
    assert not SystemdNotifier("vsock:2:1234").enabled
    assert not SystemdNotifier("relative.sock").enabled
    assert "ignoring NOTIFY_SOCKET" in caplog.text


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, None),
    ({"WATCHDOG_USEC": "30000000"}, 30.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 30.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),  # another process's watchdog
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
])
def test_watchdog_interval_follows_sd_watchdog_enabled(environ, expected):
    assert watchdog_interval_s(environ) == expected


def test_extended_timeout_extends_while_the_block_runs_and_stops_after(sock):
    notifier = SystemdNotifier(sock.address)
    with extended_timeout("building", notifier, period_s=0.05):
        sock.wait_for(lambda ms: len([m for m in ms if "EXTEND_TIMEOUT_USEC" in m]) >= 3, 10, "three extensions")
    ended = len(sock.messages)
    threading.Event().wait(0.3)  # six periods
    messages = sock.messages
    assert len(messages) == ended, "no extension after the block"
    assert messages[0].fields == {"STATUS": "building"}
    assert {m.fields["EXTEND_TIMEOUT_USEC"] for m in messages[1:]} == {"100000"}


def test_a_tensorrt_engine_build_extends_the_start_timeout(sock, tmp_path, monkeypatch):
    monkeypatch.setattr(notify, "_process_notifier", SystemdNotifier(sock.address))
    monkeypatch.setattr(notify, "EXTEND_PERIOD_S", 0.05)
    settings = BuildSettings(precision="fp16", input_name="images", min_shape=(1, 3, 64, 64),
                             opt_shape=(1, 3, 64, 64), max_shape=(1, 3, 64, 64), workspace_mib=64,
                             dla_core=None, gpu_fallback=True, strongly_typed=True)
    key = EngineKey("yolo", "b" * 64, settings, BuildEnvironment("10.3.0", "Orin", "8.7", None))

    def slow_build(_timing):  # a build that lasts until systemd was asked twice for more time
        sock.wait_for(lambda ms: len([m for m in ms if "EXTEND_TIMEOUT_USEC" in m]) >= 2, 10, "extensions")
        return b"engine", None

    cached = EngineCache(tmp_path).load_or_build(key, slow_build)
    assert cached.built
    statuses = [m.fields["STATUS"] for m in sock.messages if "STATUS" in m]
    assert statuses == ["building the TensorRT engine for yolo"]
    # Reusing the cached engine asks for nothing.
    before = len(sock.messages)
    assert not EngineCache(tmp_path).load_or_build(key, slow_build).built
    assert len(sock.messages) == before
