"""Replies to commands, and the ones kept by command id so that a command sent again is answered
with its first reply instead of being executed twice.

The table keeps the newest `capacity` replies, in `<state_dir>/commands.json` (written
atomically after each command), so a redelivery after a restart is recognised too.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from jetsentry.atomicfile import write_atomically
from jetsentry.commands.models import RESULT_SCHEMA_ID, CommandResult
from jetsentry.publish.message import format_utc_ms

log = logging.getLogger("jetsentry.commands")

FILE_NAME = "commands.json"
VERSION = 1


def reply_payload(*, device_id: str, command_id: str | None, command_type: str | None, result: dict | None = None,
                  error: tuple[str, str] | None = None, ts: float | None = None, replayed: bool = False) -> bytes:
    """The reply's JSON (validated by its model): a result, or an error (code, message)."""
    reply = CommandResult(
        schema_id=RESULT_SCHEMA_ID, device_id=device_id, id=command_id, type=command_type,
        ts=format_utc_ms(time.time() if ts is None else ts), ok=error is None, replayed=replayed,
        result=result if error is None else None,
        error=None if error is None else {"code": error[0], "message": error[1]},
    )
    return reply.model_dump_json(by_alias=True).encode()


def as_replayed(payload: bytes) -> bytes:
    """A kept reply sent again: the same, with replayed true."""
    reply = json.loads(payload)
    reply["replayed"] = True
    return json.dumps(reply, separators=(",", ":")).encode()


class ReplyTable:
    """command id -> its first reply, the newest `capacity` of them, kept in a file."""

    def __init__(self, state_dir: Path, capacity: int) -> None:
        self.path = Path(state_dir) / FILE_NAME
        self.capacity = capacity
        self._replies: OrderedDict[str, str] = OrderedDict()
        self._load()

    def __len__(self) -> int:
        return len(self._replies)

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            replies = data["replies"] if data.get("version") == VERSION else None
            if not isinstance(replies, list):
                raise ValueError(f"not a version-{VERSION} reply table")
            for command_id, reply in replies:
                self._replies[str(command_id)] = str(reply)
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            log.error("commands: %s cannot be read (%s); commands sent before are not recognised", self.path, exc)
            self._replies.clear()
        while len(self._replies) > self.capacity:
            self._replies.popitem(last=False)

    def get(self, command_id: str) -> bytes | None:
        reply = self._replies.get(command_id)
        return None if reply is None else reply.encode()

    def put(self, command_id: str, reply: bytes) -> None:
        """Keep a reply (dropping the oldest beyond capacity) and save the table; a save that
        fails is logged: the reply still goes out, a redelivery after a restart would run again."""
        self._replies[command_id] = reply.decode()
        self._replies.move_to_end(command_id)
        while len(self._replies) > self.capacity:
            self._replies.popitem(last=False)
        data: dict[str, Any] = {"version": VERSION, "replies": list(self._replies.items())}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, json.dumps(data, separators=(",", ":")).encode())
        except OSError as exc:
            log.error("commands: cannot save %s (%s): a command sent again after a restart would run again",
                      self.path, exc)
