"""The watchdog pinger: WATCHDOG=1 only while no stage is wedged; STATUS names a wedged stage."""

from __future__ import annotations

import pytest

from jetsentry.health.heartbeat import Heartbeat, Heartbeats
from jetsentry.supervision.notify import SystemdNotifier
from jetsentry.supervision.watchdog import STAGE_FLOORS_S, UNSUPERVISED_DEADLINE_S, StageDeadlines, WatchdogPinger
from tests.support.notify_socket import NotifySocket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("watchdog_s", "kind", "expected"), [
    (30.0, "engine", 15.0),  # half the watchdog timeout
    (30.0, "capture", 15.0),
    (4.0, "engine", STAGE_FLOORS_S["engine"]),  # never below the floor
    (4.0, "publisher", STAGE_FLOORS_S["publisher"]),
    (None, "batcher", UNSUPERVISED_DEADLINE_S),
])
def test_deadlines(watchdog_s, kind, expected):
    assert StageDeadlines(watchdog_s).for_stage(kind) == expected


def test_check_interval_is_a_quarter_of_the_watchdog_at_most_one_second():
    assert StageDeadlines(2.0).check_interval_s == 0.5
    assert StageDeadlines(30.0).check_interval_s == 1.0
    assert StageDeadlines(None).check_interval_s == 1.0


def test_pings_stop_while_a_stage_is_stale_and_resume_after(tmp_path, caplog):
    clock = Clock()
    heartbeats = Heartbeats(clock)
    engine = heartbeats.add(Heartbeat("engine"), 5.0)
    engine.start()
    engine.last = 0.0
    with NotifySocket(tmp_path / "n.sock") as sock:
        pinger = WatchdogPinger(SystemdNotifier(sock.address), heartbeats, lambda: "1/1 cameras streaming",
                                deadlines=StageDeadlines(2.0))
        assert pinger.check()  # fresh: ping, with the status (new)
        assert pinger.check()  # ping, status unchanged: not repeated
        clock.now = 6.0
        assert not pinger.check()  # stale: no ping, the status says why
        assert not pinger.check()
        clock.now, engine.last = 7.0, 7.0
        assert pinger.check()
        messages = sock.wait_for(lambda ms: len(ms) == 4, 5, "four messages")
    assert [m.fields for m in messages] == [
        {"WATCHDOG": "1", "STATUS": "1/1 cameras streaming"},
        {"WATCHDOG": "1"},
        {"STATUS": "WEDGED: engine silent 6 s; 1/1 cameras streaming"},
        {"WATCHDOG": "1", "STATUS": "1/1 cameras streaming"},
    ]
    assert pinger.pings == 3
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == ["stage(s) wedged (engine silent 6 s): withholding the watchdog ping: systemd restarts the daemon"]
    assert "every stage beats again (engine recovered)" in caplog.text


def test_without_a_watchdog_only_status_is_sent(tmp_path):
    heartbeats = Heartbeats()
    with NotifySocket(tmp_path / "n.sock") as sock:
        pinger = WatchdogPinger(SystemdNotifier(sock.address), heartbeats, lambda: "ok",
                                deadlines=StageDeadlines(None))
        assert not pinger.check()
        assert [m.fields for m in sock.wait_for(lambda ms: ms, 5, "a message")] == [{"STATUS": "ok"}]
