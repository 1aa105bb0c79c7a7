"""The outbox database file: opening it, locking it, and moving a damaged one aside.

`<state_dir>/outbox.db` is SQLite in WAL mode with `synchronous=FULL`: a transaction is on
disk (the WAL fsynced) when COMMIT returns, and a crash or power cut at any point leaves
the last committed state.  One process at a time: `<state_dir>/outbox.lock` is held with
flock for as long as the database is open, so a second daemon on the same state_dir fails
instead of replaying the first one's messages.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import time
from pathlib import Path

from jetsentry.atomicfile import make_writable_dir

log = logging.getLogger(__name__)

DB_NAME = "outbox.db"
LOCK_NAME = "outbox.lock"
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    droppable INTEGER NOT NULL
)
"""


class OutboxError(RuntimeError):
    """The outbox cannot be used at all (its folder is not writable, another process holds it)."""


class _Damaged(Exception):
    pass


def check_writable_dir(folder: Path) -> None:
    """Create folder; OutboxError naming it and the settings when this user cannot write there."""
    try:
        make_writable_dir(folder)
    except OSError as exc:
        raise OutboxError(
            f"cannot write the message outbox to {folder}: {exc.strerror or exc} (set state_dir in the config "
            "to a directory this user can write, or mqtt.outbox: memory to keep messages in memory only)"
        ) from None


def lock_folder(folder: Path) -> int:
    """An exclusive flock on <folder>/outbox.lock, held until the returned descriptor is closed."""
    path = folder / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise OutboxError(f"the message outbox in {folder} is in use by another process (it holds {path}); "
                          "run one jetsentry per state_dir") from None
    return fd


def open_database(folder: Path) -> sqlite3.Connection:
    """<folder>/outbox.db, opened, checked and ready; a damaged file is moved aside with one log
    line and a fresh one created."""
    path = folder / DB_NAME
    try:
        return _open(path)
    except (_Damaged, sqlite3.DatabaseError) as exc:
        aside = move_aside(path)
        log.error("MQTT outbox: %s is unreadable (%s): moved it to %s and started an empty outbox; "
                  "the messages it held are not sent", path, exc, aside.name)
    return _open(path)


def _open(path: Path) -> sqlite3.Connection:
    # isolation_level=None: transactions are the explicit BEGIN/COMMIT of DiskOutbox.
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise _Damaged(f"cannot use WAL mode (journal_mode is {mode})")
        db.execute("PRAGMA synchronous=FULL")
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise _Damaged(f"integrity check: {check}")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            raise _Damaged(f"schema version {version}, this jetsentry writes {SCHEMA_VERSION}")
        db.execute(_SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except BaseException:
        db.close()
        raise
    return db


def move_aside(path: Path) -> Path:
    """Rename path and its -wal/-shm files to <path>.corrupt-<UTC time>[-wal|-shm]."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    for n in range(1, 1000):
        if not aside.exists():
            break
        aside = path.with_name(f"{path.name}.corrupt-{stamp}.{n}")
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
    return aside
