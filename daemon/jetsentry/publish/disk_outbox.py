"""An `Outbox` in SQLite (`<state_dir>/outbox.db`): messages survive broker outages and crashes.

A message moves through three places: *staged* (put() appended it in memory: the frame
path never waits for the disk), *waiting* (commit() wrote it in one transaction with every
other staged message, the group commit, on the publisher's thread) and *in flight* (handed
to the broker).  pop_batch() hands out the waiting messages, oldest first, then staged ones:
a message is sent without waiting for its commit (an fsync that stalls for the disk delays
nothing on the wire), and is written by the next commit all the same unless its PUBACK came
first.  A crash loses what was staged and not yet acknowledged, as it would had the message
waited; a row is deleted only after the broker's PUBACK.  At start-up every row left is
waiting again, oldest first: global key order is each camera's order.

Deletes are not urgent (a delete lost in a crash means one duplicate, which subscribers
drop by message_id), so they ride along with the next insert, or are committed on their
own every DELETE_INTERVAL_S.

Quota: when the messages not yet acknowledged exceed `max_bytes` (topic plus payload) or
`max_messages`, put() drops the oldest waiting detections messages, never anything else
(health, events) and never a message in flight; the publisher counts and logs the drops.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from itertools import islice
from pathlib import Path

from jetsentry.config.models import MqttConfig
from jetsentry.publish.outbox import MemoryOutbox, Outbox, OutgoingMessage, message_size
from jetsentry.publish.outbox_db import DB_NAME, check_writable_dir, lock_folder, open_database
from jetsentry.publish.topics import is_detections_topic

log = logging.getLogger(__name__)

# Acknowledged rows are deleted with the next insert, or on their own once this old or this
# many: a crash re-sends at most this much (duplicates), and replay costs one fsync per
# DELETE_BATCH acknowledgements instead of one per PUBACK round.
DELETE_INTERVAL_S = 0.25
DELETE_BATCH = 4096
COMMIT_ERROR_LOG_INTERVAL_S = 30.0
# Payloads of committed messages kept in memory so pop_batch() rarely reads the file: up to
# CACHE_MAX freshly committed ones (the live path), and READ_AHEAD rows read per query during
# a replay, where the publisher refills its send window a few messages at a time and one
# query per refill halved the replay rate.
CACHE_MAX = 1024
READ_AHEAD = 256


class DiskOutbox:
    """The outbox in `<state_dir>/outbox.db`; see the module docstring.

    Thread use: put() from any thread; commit(), pop_batch(), ack(), requeue_unacked() and
    close() from the publisher's network thread (close() also once it has stopped).  An
    internal lock guards the in-memory index, never held across disk I/O.
    """

    drop_reason = "quota"

    def __init__(self, state_dir: Path, *, max_bytes: int, max_messages: int,
                 clock=time.monotonic) -> None:
        if max_bytes < 1 or max_messages < 1:
            raise ValueError(f"outbox quota must be >= 1, got {max_bytes} bytes, {max_messages} messages")
        self.folder = Path(state_dir)
        self.path = self.folder / DB_NAME
        self.max_bytes = max_bytes
        self.max_messages = max_messages
        self._clock = clock
        check_writable_dir(self.folder)
        self._lock_fd = lock_folder(self.folder)
        try:
            self._db = open_database(self.folder)
            rows = self._db.execute(
                "SELECT id, length(topic) + length(payload), droppable FROM messages ORDER BY id").fetchall()
        except BaseException:
            os.close(self._lock_fd)
            raise
        self._lock = threading.Lock()
        self._meta: dict[int, tuple[int, bool]] = {}  # every unacknowledged key -> (size, droppable)
        self._staged: OrderedDict[int, tuple[OutgoingMessage, bool]] = OrderedDict()  # key -> (message, droppable)
        self._waiting: OrderedDict[int, None] = OrderedDict()  # committed, not in flight, oldest first
        self._droppable: OrderedDict[int, None] = OrderedDict()  # staged or waiting detections, oldest first
        self._in_flight: set[int] = set()
        self._deletes: list[int] = []  # acknowledged or dropped rows still on disk
        self._cache: dict[int, OutgoingMessage] = {}  # committed waiting key -> message, see CACHE_MAX
        self._nbytes = 0
        for key, size, droppable in rows:
            self._add(key, size, bool(droppable))
            self._waiting[key] = None
        self._next_key = rows[-1][0] + 1 if rows else 0
        self.recovered = len(rows)  # messages found at start-up, sent before anything new
        self._last_delete_commit = clock()
        self._last_error_log = -float("inf")
        self.commit_errors = 0
        if rows:
            log.info("MQTT outbox: %d unacknowledged messages in %s from an earlier run; sending them first",
                     len(rows), self.path)

    # ------------------------------------------------------------------ any thread

    def put(self, message: OutgoingMessage) -> int:
        droppable = not message.retain and is_detections_topic(message.topic)
        with self._lock:
            key = self._next_key
            self._next_key += 1
            self._add(key, message_size(message), droppable)
            self._staged[key] = (message, droppable)
            return self._enforce_quota()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def nbytes(self) -> int:
        return self._nbytes

    @property
    def staged(self) -> int:
        """Messages put and not yet committed."""
        return len(self._staged)

    def __len__(self) -> int:
        return len(self._meta)

    def _add(self, key: int, size: int, droppable: bool) -> None:
        self._meta[key] = (size, droppable)
        self._nbytes += size
        if droppable:
            self._droppable[key] = None

    def _forget(self, key: int) -> None:
        size, _ = self._meta.pop(key)
        self._nbytes -= size

    def _enforce_quota(self) -> int:
        dropped = 0
        while (self._nbytes > self.max_bytes or len(self._meta) > self.max_messages) and self._droppable:
            key, _ = self._droppable.popitem(last=False)
            self._forget(key)
            if self._staged.pop(key, None) is None:  # committed, or being committed now: delete the row
                self._deletes.append(key)
            self._waiting.pop(key, None)  # a staged one is waiting too once requeued after a send
            self._cache.pop(key, None)
            dropped += 1
        return dropped

    # --------------------------------------------------------- the publisher's thread

    def commit(self) -> int:
        """Write staged messages (and pending deletes) in one transaction, then read the next
        waiting payloads ahead; returns how many messages became durable.  A failing disk is
        logged (rate-limited) and retried on the next call, the messages kept in memory
        meanwhile.  The publisher calls this outside its lock, so the frame path never waits
        for the file, and pop_batch() (under that lock) finds its payloads in memory."""
        committed = self._write()
        self._read_ahead()
        return committed

    def _read_ahead(self) -> None:
        with self._lock:
            if all(key in self._cache for key in islice(self._waiting, READ_AHEAD // 4)):
                return
            missing = [key for key in islice(self._waiting, READ_AHEAD) if key not in self._cache]
        try:
            self._read(missing)
        except sqlite3.Error as exc:  # pop_batch() reads them itself, and raises if the file is gone
            log.warning("MQTT outbox: cannot read ahead in %s: %s", self.path, exc)

    def _write(self) -> int:
        now = self._clock()
        with self._lock:
            if not self._staged and not (
                self._deletes and (len(self._deletes) >= DELETE_BATCH or now - self._last_delete_commit
                                   >= DELETE_INTERVAL_S)):
                return 0
            staged, self._staged = self._staged, OrderedDict()
            deletes, self._deletes = self._deletes, []
        try:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO messages (id, topic, payload, qos, retain, droppable) VALUES (?, ?, ?, ?, ?, ?)",
                [(key, m.topic, m.payload, m.qos, m.retain, droppable) for key, (m, droppable) in staged.items()])
            self._db.executemany("DELETE FROM messages WHERE id = ?", [(key,) for key in deletes])
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            with self._lock:
                staged.update(self._staged)  # newer keys behind the ones that failed
                self._staged = OrderedDict((k, m) for k, m in staged.items() if k in self._meta)
                self._deletes = deletes + self._deletes
            self._commit_failed(exc)
            return 0
        with self._lock:
            self._last_delete_commit = now
            for key, (message, _) in staged.items():
                # Not dropped by the quota meanwhile (its row is in _deletes then), not sent already.
                if key in self._meta and key not in self._in_flight:
                    self._waiting[key] = None
                    if len(self._cache) < CACHE_MAX:
                        self._cache[key] = message
        return len(staged)

    def _rollback(self) -> None:
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # no transaction open (BEGIN itself failed)

    def _commit_failed(self, exc: sqlite3.Error) -> None:
        self.commit_errors += 1
        now = self._clock()
        if now - self._last_error_log >= COMMIT_ERROR_LOG_INTERVAL_S:
            self._last_error_log = now
            log.error("MQTT outbox: cannot write %s (%s); %d messages held in memory until it works "
                      "(%d failed commits so far)", self.path, exc, len(self._staged), self.commit_errors)

    def pop_batch(self, max_items: int) -> list[tuple[int, OutgoingMessage]]:
        with self._lock:
            keys = []
            while self._waiting and len(keys) < max_items:
                key, _ = self._waiting.popitem(last=False)
                self._droppable.pop(key, None)
                self._in_flight.add(key)
                keys.append(key)
            missing = [key for key in keys if key not in self._cache]
            if missing:
                missing += [key for key in islice(self._waiting, READ_AHEAD) if key not in self._cache]
            fresh = self._pop_staged(max_items - len(keys))
        if missing:
            self._read(missing)
        with self._lock:
            batch = [(key, self._cache.pop(key)) for key in keys if key in self._cache]
        if len(batch) != len(keys):  # cannot happen unless the file was changed under us: forget the missing
            found = {key for key, _ in batch}
            for key in keys:
                if key not in found:
                    self.ack(key)
        return batch + fresh

    def _pop_staged(self, room: int) -> list[tuple[int, OutgoingMessage]]:
        """Staged messages handed out before their commit (under the lock; newer than every
        waiting one, so the order holds)."""
        fresh = []
        if room <= 0 or not self._staged:
            return fresh
        for key, (message, _) in self._staged.items():
            if len(fresh) >= room:
                break
            if key in self._in_flight or key in self._waiting:
                continue
            self._droppable.pop(key, None)
            self._in_flight.add(key)
            fresh.append((key, message))
        return fresh

    def _read(self, keys: list[int]) -> None:
        marks = ",".join("?" * len(keys))
        rows = self._db.execute(f"SELECT id, topic, payload, qos, retain FROM messages WHERE id IN ({marks})",
                                keys).fetchall()
        with self._lock:
            for key, topic, payload, qos, retain in rows:
                if key in self._meta:  # not dropped meanwhile
                    self._cache[key] = OutgoingMessage(topic, payload, qos, bool(retain))

    def ack(self, key: int) -> None:
        with self._lock:
            if key in self._in_flight:
                self._in_flight.discard(key)
                self._forget(key)
                if self._staged.pop(key, None) is None:  # written (or being written): delete its row
                    self._deletes.append(key)

    def requeue_unacked(self) -> int:
        with self._lock:
            keys = sorted(self._in_flight, reverse=True)
            for key in keys:  # newest first onto the front: the oldest ends up first
                self._waiting[key] = None
                self._waiting.move_to_end(key, last=False)
                if key in self._staged:  # sent before its commit: pop_batch() finds it in the cache
                    self._cache[key] = self._staged[key][0]
                if self._meta[key][1]:
                    self._droppable[key] = None
                    self._droppable.move_to_end(key, last=False)
            self._in_flight.clear()
            return len(keys)

    def close(self) -> None:
        """Commit what is staged and acknowledged, close the database and release the lock."""
        if self._db is None:
            return
        with self._lock:
            self._last_delete_commit = -float("inf")  # flush pending deletes too
        self.commit()
        self._db.close()
        self._db = None
        os.close(self._lock_fd)


def open_outbox(cfg: MqttConfig, state_dir: Path) -> Outbox:
    """The outbox `mqtt.outbox` asks for; OutboxError when a disk outbox cannot be used."""
    if cfg.outbox == "memory":
        return MemoryOutbox(cfg.queue_max)
    return DiskOutbox(state_dir, max_bytes=cfg.outbox_max_bytes, max_messages=cfg.outbox_max_messages)
