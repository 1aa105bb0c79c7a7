"""The command worker: commands from the broker's network thread, executed one at a time on
this worker's own thread (a camera change may wait seconds for a session to stop), each
answered on `{prefix}/{device_id}/commands/result`.

A command whose id has a kept reply (replies.py) is not executed: its first reply goes out
again, marked replayed.  Commands the parser refuses executed nothing and are not kept (sent
again, fixed, under the same id, they run).  Nothing a command carries can stop the worker:
an exception in a handler is a bug, logged with its traceback and answered `internal`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any

from jetsentry.commands.camera_commands import CameraCommands, CommandFailed
from jetsentry.commands.parser import Parsed, Refused, parse_command
from jetsentry.commands.replies import ReplyTable, as_replayed, reply_payload
from jetsentry.config.commands import CommandsConfig
from jetsentry.snapshot import NoFrameYet, Snapshots, UnknownCamera

log = logging.getLogger("jetsentry.commands")

# Commands waiting for the worker; more are answered `busy` (the sender retries, same id).
QUEUE_MAX = 64


class CommandWorker:
    """`submit` is the publisher's message handler; `publish(topic, payload)` sends a reply,
    an event or a snapshot (QoS 1, through the outbox)."""

    def __init__(self, config: CommandsConfig, *, device_id: str, cameras: CameraCommands, snapshots: Snapshots,
                 status: Callable[[], Mapping[str, Any]], replies: ReplyTable,
                 publish: Callable[[str, bytes], Any], result_topic: str,
                 snapshot_topic: Callable[[str], str]) -> None:
        self._config = config
        self._device_id = device_id
        self._cameras = cameras
        self._snapshots = snapshots
        self._status = status
        self._replies = replies
        self._publish = publish
        self._result_topic = result_topic
        self._snapshot_topic = snapshot_topic
        self._queue: queue.Queue[bytes | None] = queue.Queue(QUEUE_MAX)
        self._thread: threading.Thread | None = None
        self.executed = 0  # commands executed (not replayed, not refused)
        self._handlers = {
            "add_camera": cameras.add_camera, "update_camera": cameras.update_camera,
            "remove_camera": cameras.remove_camera, "enable_camera": cameras.enable_camera,
            "disable_camera": cameras.disable_camera, "set_fps_cap": cameras.set_fps_cap,
            "snapshot": self._snapshot, "status": self._status_result,
        }

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="commands", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """After the command being executed; the ones waiting are dropped (they were not
        acknowledged as executed: the sender sends them again)."""
        if self._thread is None:
            return
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(None)
        self._thread.join(timeout_s)

    def submit(self, _topic: str, payload: bytes) -> None:
        """From the network thread: returns at once."""
        try:
            self._queue.put_nowait(payload)
        except queue.Full:
            log.warning("commands: %d commands waiting; one more answered busy", QUEUE_MAX)
            self._reply(None, None, error=("busy", f"{QUEUE_MAX} commands are waiting; send it again later "
                                           "with the same id"))

    def _run(self) -> None:
        while True:
            payload = self._queue.get()
            if payload is None:
                return
            try:
                self.handle(payload)
            except Exception:  # a bug: the worker goes on with the next command
                log.exception("commands: handling a command failed")

    def handle(self, payload: bytes) -> bytes:
        """Execute (or refuse, or replay) one command and publish its reply; returns the reply."""
        parsed = parse_command(payload, self._config.max_payload_bytes)
        if isinstance(parsed, Refused):
            log.warning("commands: refused a command (id %r): %s: %s", parsed.id, parsed.code, parsed.message)
            return self._reply(parsed.id, parsed.type, error=(parsed.code, parsed.message))
        kept = self._replies.get(parsed.id)
        if kept is not None:
            log.info("commands: %s %s was executed before; its first reply sent again", parsed.type, parsed.id)
            reply = as_replayed(kept)
            self._publish(self._result_topic, reply)
            return reply
        return self._execute(parsed)

    def _execute(self, parsed: Parsed) -> bytes:
        try:
            result = self._handlers[parsed.type](parsed.command, parsed.raw)
            error = None
        except CommandFailed as exc:
            result, error = None, (exc.code, exc.message)
        except Exception as exc:
            log.exception("commands: %s %s failed", parsed.type, parsed.id)
            result, error = None, ("internal", f"{type(exc).__name__}; the daemon's log has the details")
        self.executed += 1
        if error is not None:
            log.warning("commands: %s %s not executed: %s: %s", parsed.type, parsed.id, *error)
        reply = reply_payload(device_id=self._device_id, command_id=parsed.id, command_type=parsed.type,
                              result=result, error=error)
        self._replies.put(parsed.id, reply)
        self._publish(self._result_topic, reply)
        return reply

    def _reply(self, command_id: str | None, command_type: str | None, *, error: tuple[str, str]) -> bytes:
        reply = reply_payload(device_id=self._device_id, command_id=command_id, command_type=command_type,
                              error=error)
        self._publish(self._result_topic, reply)
        return reply

    def _snapshot(self, command, _raw) -> dict[str, Any]:
        try:
            image = self._snapshots.take(command.camera_id, max_bytes=self._config.snapshot_max_bytes)
        except UnknownCamera:
            raise CommandFailed("unknown_camera", f"no running camera {command.camera_id!r}") from None
        except (NoFrameYet, ValueError) as exc:
            raise CommandFailed("refused", str(exc)) from None
        topic = self._snapshot_topic(command.camera_id)
        self._publish(topic, image.jpeg)
        return {"camera_id": command.camera_id, "topic": topic, "bytes": len(image.jpeg), "width": image.width,
                "height": image.height, "frame_width": image.frame_width, "frame_height": image.frame_height,
                "seq": image.seq, "detections": image.detections}

    def _status_result(self, _command, _raw) -> dict[str, Any]:
        return dict(self._status())
