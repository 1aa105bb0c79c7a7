"""`jetsentry run` with the disk outbox: kill -9 during a broker outage, restart, nothing missing.

What the daemon had made durable when it was killed is read from its outbox.db (the ground
truth of "produced and kept"); after the restart and the broker's return the subscriber must
hold all of it, per camera in order, replayed before the new run's live messages.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

from tests.pipeline.daemon_process import SAMPLE_VIDEO, daemon_config
from tests.support.broker import Subscriber, wait_until

CAMERAS = ("cam1", "cam2", "cam3", "cam4")
log = logging.getLogger(__name__)


def _ids(messages) -> list[str]:
    return [json.loads(m.payload)["message_id"] for m in messages]


def _durable_ids(db_path: Path) -> list[str]:
    with sqlite3.connect(db_path) as db:  # a second reader beside the daemon is fine in WAL mode
        rows = db.execute("SELECT payload FROM messages WHERE droppable = 1 ORDER BY id").fetchall()
    return [json.loads(payload)["message_id"] for (payload,) in rows]


def _split(message_id: str) -> tuple[str, int, int]:
    _, camera, run, seq = message_id.split("/")
    return camera, int(run), int(seq)


def test_kill_9_during_an_outage_then_restart_delivers_every_kept_message_in_order(
        tmp_path, mosquitto_factory, daemons):
    broker = mosquitto_factory(persistence=True)
    subscriber = Subscriber(broker, "jetsentry/testdev/+/detections", persistent=True).start()
    broker.save()
    cameras = [{"id": cam, "source": str(SAMPLE_VIDEO), "fps_cap": 4} for cam in CAMERAS]
    config = daemon_config(tmp_path / "cfg.yaml", port=broker.port, cameras=cameras)
    db_path = tmp_path / "state" / "outbox.db"
    try:
        first = daemons(config)
        first.wait_log("run 1, disk outbox", 60)
        subscriber.wait_for(lambda ms: len(ms) >= 20, 60, "live messages from run 1")
        broker.stop()
        wait_until(lambda: db_path.exists() and len(_durable_ids(db_path)) >= 40, 60,
                   "40 messages kept in the outbox during the outage")
        first.kill()  # SIGKILL
        kept = _durable_ids(db_path)
        assert {_split(i)[1] for i in kept} == {1}

        second = daemons(config)
        second.wait_log("run 2, disk outbox", 60)
        assert "unacknowledged messages in" in second.log and "from an earlier run" in second.log
        broker.start()

        seen: set[str] = set()
        live = {cam: 0 for cam in CAMERAS}

        def complete(messages) -> bool:  # incremental: called on every message, with thousands of them
            for message_id in _ids(messages[complete.checked:]):
                if message_id not in seen and _split(message_id)[1] == 2:
                    live[_split(message_id)[0]] += 1
                seen.add(message_id)
            complete.checked = len(messages)
            return set(kept) <= seen and min(live.values()) >= 3

        complete.checked = 0

        try:
            received = subscriber.wait_for(complete, 120, f"the {len(kept)} kept messages and live ones of run 2")
        except AssertionError:
            missing = sorted(set(kept) - set(_ids(subscriber.messages)))
            raise AssertionError(f"{len(missing)} of {len(kept)} kept messages never arrived: {missing[:10]}; "
                                 f"run 2 messages per camera: {live}; log:\n{second.log[-3000:]}") from None
    finally:
        subscriber.stop()
    ids = _ids(received)
    first_arrivals = list(dict.fromkeys(ids))
    for camera in CAMERAS:
        mine = [_split(i) for i in first_arrivals if _split(i)[0] == camera]
        assert mine == sorted(mine, key=lambda c: (c[1], c[2]))  # run 1 (replayed) before run 2, seq in order
    log.info("%d kept at the kill, %d messages received, %d duplicates", len(kept), len(ids),
             len(ids) - len(first_arrivals))


def test_a_state_dir_that_cannot_be_written_exits_2_naming_it(tmp_path, mosquitto_broker, daemons):
    (tmp_path / "plain-file").write_text("")
    config = daemon_config(tmp_path / "cfg.yaml", port=mosquitto_broker.port,
                           cameras=[{"id": "cam1", "source": str(SAMPLE_VIDEO)}],
                           state_dir=str(tmp_path / "plain-file" / "state"))
    daemon = daemons(config)
    assert daemon.proc.wait(60) == 2
    assert "plain-file/state" in daemon.log and "state_dir" in daemon.log
    assert "Traceback" not in daemon.log
