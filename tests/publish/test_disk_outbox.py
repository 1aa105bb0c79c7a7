"""DiskOutbox on real SQLite files: durability, order, quota, damaged files, the run counter."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from jetsentry.publish import DiskOutbox, OutboxError, OutgoingMessage, next_run
from jetsentry.publish.outbox_db import DB_NAME

REPO = Path(__file__).resolve().parents[2]


def _detections(camera: str, seq: int, size: int = 10) -> OutgoingMessage:
    return OutgoingMessage(f"jetsentry/dev1/{camera}/detections", f"{camera}:{seq}:".encode().ljust(size, b"x"), 1)


def _health(n: int) -> OutgoingMessage:
    return OutgoingMessage("jetsentry/dev1/health", f"health:{n}".encode(), 1, retain=True)


def _names(batch) -> list[str]:
    return [":".join(m.payload.decode().split(":")[:2]) for _, m in batch]


def _box(path: Path, **quota) -> DiskOutbox:
    return DiskOutbox(path, **({"max_bytes": 1 << 30, "max_messages": 1_000_000} | quota))


def test_put_survives_reopen_in_order(tmp_path):
    box = _box(tmp_path)
    for seq in range(3):
        for camera in ("a", "b"):
            box.put(_detections(camera, seq))
    assert (len(box), box.staged) == (6, 6)
    assert box.commit() == 6
    batch = box.pop_batch(2)
    assert _names(batch) == ["a:0", "b:0"]
    box.ack(batch[0][0])  # a:0 acknowledged; b:0 in flight when the process goes
    box.close()

    again = _box(tmp_path)
    assert again.recovered == 5
    assert _names(again.pop_batch(10)) == ["b:0", "a:1", "b:1", "a:2", "b:2"]
    again.close()


def test_staged_messages_are_sent_before_their_commit_and_still_written(tmp_path):
    box = _box(tmp_path)
    for seq in range(3):
        box.put(_detections("a", seq))
    batch = box.pop_batch(2)  # no wait for the disk: a:0 and a:1 go out before any commit
    assert _names(batch) == ["a:0", "a:1"] and box.in_flight == 2
    box.ack(batch[0][0])  # acknowledged before its commit: never written
    assert box.commit() == 2  # a:1 (in flight) and a:2
    assert _names(box.pop_batch(10)) == ["a:2"]  # a:1 is in flight, not waiting again
    box.close()
    again = _box(tmp_path)
    assert again.recovered == 2 and _names(again.pop_batch(10)) == ["a:1", "a:2"]
    again.close()


def test_sent_before_its_commit_then_requeued_or_dropped_keeps_the_outbox_consistent(tmp_path):
    box = _box(tmp_path, max_messages=2)
    box.put(_detections("a", 0))
    box.put(_detections("a", 1))
    assert _names(box.pop_batch(10)) == ["a:0", "a:1"]
    assert box.requeue_unacked() == 2  # the connection dropped before the PUBACKs and the commit
    assert box.put(_detections("a", 2)) == 1  # the quota drops the oldest, a:0, waiting again
    batch = box.pop_batch(10)
    assert _names(batch) == ["a:1", "a:2"]
    for key, _ in batch:
        box.ack(key)
    box.commit()
    assert (len(box), box.nbytes) == (0, 0)
    box.close()
    assert _box(tmp_path).recovered == 0


def test_small_pops_of_a_recovered_outbox_return_every_message_once_in_order(tmp_path):
    box = _box(tmp_path)
    for seq in range(700):  # more than one read-ahead
        box.put(_detections("a", seq))
    box.commit()
    box.close()
    again = _box(tmp_path, max_messages=650)
    got = []
    while batch := again.pop_batch(3):
        got += _names(batch)
        for key, _ in batch[:2]:
            again.ack(key)
        if len(got) == 30:  # the quota drops the oldest waiting ones, some already read ahead
            again.put(_detections("b", 0))
            again.commit()
    assert got[:30] == [f"a:{seq}" for seq in range(30)]
    # 680 unacknowledged (20 acked) + b:0 = 681 > 650: the 31 oldest waiting go, a:30 to a:60
    assert got[30:] == [f"a:{seq}" for seq in range(61, 700)] + ["b:0"]
    again.close()


def test_commit_reads_ahead_so_pop_batch_under_the_publishers_lock_needs_no_read(tmp_path):
    box = _box(tmp_path)
    for seq in range(100):
        box.put(_detections("a", seq))
    box.commit()
    box.close()
    again = _box(tmp_path)
    again.commit()  # nothing to write; reads the first waiting payloads
    with sqlite3.connect(tmp_path / DB_NAME) as other:
        other.execute("DELETE FROM messages")  # behind its back: a read now would find nothing
    assert _names(again.pop_batch(10)) == [f"a:{seq}" for seq in range(10)]
    again.close()


def test_requeued_messages_go_back_in_front_in_their_order(tmp_path):
    box = _box(tmp_path)
    for seq in range(6):
        box.put(_detections("a", seq))
    box.commit()
    first = box.pop_batch(4)
    box.ack(first[1][0])
    assert box.requeue_unacked() == 3
    assert box.in_flight == 0
    assert _names(box.pop_batch(10)) == ["a:0", "a:2", "a:3", "a:4", "a:5"]
    box.close()


def test_acknowledged_rows_are_deleted_from_the_file(tmp_path):
    box = _box(tmp_path)
    for seq in range(100):
        box.put(_detections("a", seq))
    box.commit()
    for key, _ in box.pop_batch(100):
        box.ack(key)
    box.close()  # pending deletes are committed on close
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0
    assert _box(tmp_path).recovered == 0


def test_quota_in_messages_drops_the_oldest_detections_never_health(tmp_path):
    box = _box(tmp_path, max_messages=5)
    box.put(_health(0))
    dropped = [box.put(_detections("a", seq)) for seq in range(4)]
    dropped.append(box.put(_health(1)))  # six messages: the oldest detections message makes room
    dropped.append(box.put(_detections("a", 4)))
    assert dropped == [0, 0, 0, 0, 1, 1]
    assert len(box) == 5
    box.commit()
    assert _names(box.pop_batch(10)) == ["health:0", "a:2", "a:3", "health:1", "a:4"]
    box.close()


def test_quota_in_bytes_counts_topic_and_payload_and_spares_messages_in_flight(tmp_path):
    size = len(_detections("a", 0, 100).topic) + 100
    box = _box(tmp_path, max_bytes=3 * size)
    for seq in range(3):
        box.put(_detections("a", seq, 100))
    box.commit()
    in_flight = box.pop_batch(1)  # a:0 is with the broker: not droppable
    assert box.nbytes == 3 * size
    assert box.put(_detections("a", 3, 100)) == 1  # a:1 goes, not a:0
    box.commit()
    assert box.nbytes == 3 * size
    box.requeue_unacked()
    assert _names(box.pop_batch(10)) == _names(in_flight) + ["a:2", "a:3"]
    box.close()
    assert _box(tmp_path).recovered == 3  # the dropped row is gone from the file too


def test_dropped_while_its_commit_runs_is_deleted_by_the_next_commit(tmp_path):
    box = _box(tmp_path, max_messages=2)
    box.put(_detections("a", 0))
    box.put(_detections("a", 1))
    staged = box._staged  # what commit() takes; simulate a put arriving during its transaction
    box._staged = type(staged)()
    box.put(_detections("a", 2))  # drops a:0, which is in the transaction, not staged
    box._staged, extra = staged, box._staged
    box._staged.update(extra)
    box.commit()
    box.close()
    again = _box(tmp_path)
    assert _names(again.pop_batch(10)) == ["a:1", "a:2"]
    again.close()


def test_a_damaged_file_is_moved_aside_with_one_log_line_and_a_fresh_one_used(tmp_path, caplog):
    (tmp_path / DB_NAME).write_bytes(b"this is not an SQLite database, it is a damaged file" * 100)
    caplog.set_level(logging.ERROR, "jetsentry.publish.outbox_db")
    box = _box(tmp_path)
    aside = [p.name for p in tmp_path.iterdir() if p.name.startswith(f"{DB_NAME}.corrupt-")]
    assert len(aside) == 1
    assert (tmp_path / aside[0]).read_bytes().startswith(b"this is not an SQLite")
    errors = [r.getMessage() for r in caplog.records]
    assert len(errors) == 1 and "unreadable" in errors[0] and aside[0] in errors[0]
    box.put(_detections("a", 0))
    box.commit()
    assert _names(box.pop_batch(1)) == ["a:0"]
    box.close()


def test_a_file_with_damaged_pages_is_moved_aside(tmp_path):
    box = _box(tmp_path)
    for seq in range(2000):
        box.put(_detections("a", seq, 200))
    box.commit()
    box.close()
    db = tmp_path / DB_NAME
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    data[8192:8192 + 4096] = b"\xa5" * 4096  # a page of the table overwritten
    db.write_bytes(bytes(data))
    again = _box(tmp_path)
    assert again.recovered == 0
    assert any(p.name.startswith(f"{DB_NAME}.corrupt-") for p in tmp_path.iterdir())
    again.close()


def test_a_state_dir_that_cannot_be_written_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OutboxError, match=r"cannot write the message outbox to .*file/state.*state_dir.*memory"):
        _box(tmp_path / "file" / "state")
    with pytest.raises(OutboxError, match=r"run counter|cannot write"):
        next_run(tmp_path / "file" / "state")


def test_a_second_process_on_the_same_state_dir_is_refused(tmp_path):
    box = _box(tmp_path)
    code = ("import sys; from jetsentry.publish import DiskOutbox, OutboxError\n"
            "try:\n    DiskOutbox(sys.argv[1], max_bytes=1 << 20, max_messages=10)\n"
            "except OutboxError as exc:\n    print(exc); sys.exit(3)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO / "daemon")))
    assert done.returncode == 3, done.stderr
    assert "in use by another process" in done.stdout
    box.close()


def test_run_counter_rises_at_every_start_and_survives_a_damaged_file(tmp_path, caplog):
    assert [next_run(tmp_path) for _ in range(3)] == [1, 2, 3]
    assert (tmp_path / "run").read_text() == "3\n"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    (tmp_path / "run").write_bytes(b"\x00garbage")
    caplog.set_level(logging.ERROR)
    after = next_run(tmp_path)
    assert after > 1_700_000_000  # the Unix time: larger than any count of starts
    assert "unreadable" in caplog.text
    assert next_run(tmp_path) == after + 1


@pytest.mark.parametrize("commits_before_kill", [50, 400, 1500])
def test_kill_9_during_a_burst_of_commits_loses_nothing_acknowledged(tmp_path, commits_before_kill):
    writer = subprocess.Popen([sys.executable, str(Path(__file__).with_name("outbox_writer.py")), str(tmp_path)],
                              stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(REPO / "daemon")))
    try:
        acknowledged = -1
        for _ in range(commits_before_kill):
            line = writer.stdout.readline()
            assert line, f"the writer exited with {writer.poll()}"
            acknowledged = int(line)
    finally:
        writer.kill()  # SIGKILL: no close(), no checkpoint, mid-transaction most likely
        writer.wait()
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    box = _box(tmp_path)
    assert not [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]  # opened as it was, not moved aside
    seqs = sorted(int(m.payload) for _, m in box.pop_batch(100_000_000))
    box.close()
    assert acknowledged > 0
    odd = [s for s in seqs if s % 2]
    assert set(range(1, acknowledged + 1, 2)) <= set(odd)  # every acknowledged odd seq is there
    assert len(seqs) == len(set(seqs))
