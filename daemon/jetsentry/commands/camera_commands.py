"""The camera commands: each validates against the camera set, saves the change
(camera_state.py), applies it (capture/camera_set.py), reports it as a camera event and
returns its result.  CommandFailed names why one was not executed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from jetsentry.capture.camera_set import CameraSet
from jetsentry.commands.camera_state import CameraState, camera_fields, masked_fields
from jetsentry.commands.models import EVENT_SCHEMA_ID, CameraEvent
from jetsentry.config.errors import validation_problems
from jetsentry.config.models import CameraConfig
from jetsentry.publish.message import format_utc_ms

log = logging.getLogger("jetsentry.commands")


class CommandFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def event_payload(*, device_id: str, type: str, camera_id: str, command_id: str, changed: list[str],
                  camera: CameraConfig | None) -> bytes:
    event = CameraEvent(schema_id=EVENT_SCHEMA_ID, device_id=device_id, ts=format_utc_ms(time.time()), type=type,
                        camera_id=camera_id, command_id=command_id, changed=changed,
                        camera=None if camera is None else masked_fields(camera))
    return event.model_dump_json(by_alias=True).encode()


class CameraCommands:
    """add, update, remove, enable, disable and set_fps_cap on the daemon's cameras."""

    def __init__(self, cameras: CameraSet, state: CameraState, *, device_id: str,
                 publish_event: Callable[[bytes], Any]) -> None:
        self._cameras = cameras
        self._state = state
        self._device_id = device_id
        self._publish_event = publish_event

    def add_camera(self, command, raw: Mapping[str, Any]) -> dict[str, Any]:
        camera = command.camera
        if camera.id in self._cameras.configs:
            raise CommandFailed("camera_exists", f"camera {camera.id} exists; update_camera changes it")
        self._apply(lambda: self._state.added(camera.id, raw["camera"]), lambda: self._cameras.add(camera))
        self._report("camera_added", camera, command.id, sorted(CameraConfig.model_fields))
        return {"camera": masked_fields(camera), "started": camera.enabled}

    def update_camera(self, command, raw: Mapping[str, Any]) -> dict[str, Any]:
        return self._change(command, dict(raw["changes"]), "camera_updated")

    def enable_camera(self, command, raw: Mapping[str, Any]) -> dict[str, Any]:
        return self._change(command, {"enabled": True}, "camera_enabled")

    def disable_camera(self, command, raw: Mapping[str, Any]) -> dict[str, Any]:
        return self._change(command, {"enabled": False}, "camera_disabled")

    def set_fps_cap(self, command, raw: Mapping[str, Any]) -> dict[str, Any]:
        return self._change(command, {"fps_cap": command.fps_cap}, "fps_cap_set")

    def remove_camera(self, command, raw: Mapping[str, Any]) -> dict[str, Any]:
        current = self._known(command.camera_id)
        if current.enabled:
            self._keep_one_enabled(current.id, "removing")
        self._apply(lambda: self._state.dropped(current.id), lambda: self._cameras.remove(current.id))
        self._report("camera_removed", None, command.id, [], camera_id=current.id)
        return {"camera_id": current.id, "removed": True}

    # ---- shared ----------------------------------------------------------------------

    def _known(self, camera_id: str) -> CameraConfig:
        camera = self._cameras.configs.get(camera_id)
        if camera is None:
            known = ", ".join(self._cameras.configs) or "none"
            raise CommandFailed("unknown_camera", f"no camera {camera_id!r} (cameras: {known})")
        return camera

    def _keep_one_enabled(self, camera_id: str, doing: str) -> None:
        others = [c for c in self._cameras.configs.values() if c.enabled and c.id != camera_id]
        if not others:
            raise CommandFailed("refused", f"{doing} camera {camera_id} would leave no enabled camera; add or enable "
                                "another first")

    def _change(self, command, changes: dict[str, Any], event: str) -> dict[str, Any]:
        current = self._known(command.camera_id)
        if "id" in changes:
            raise CommandFailed("invalid_field", "changes.id: a camera's id cannot change; remove the camera and add "
                                "it with the new id")
        try:
            updated = CameraConfig.model_validate({**camera_fields(current), **changes})
        except ValidationError as exc:
            problems = [("changes" + p.removeprefix("<root>") if p.startswith("<root>") else f"changes.{p}")
                        .replace("unknown key (not a configuration field)", "unknown field")
                        for p in validation_problems(exc)]
            raise CommandFailed("invalid_field", "; ".join(problems[:5])) from None
        changed = [name for name in CameraConfig.model_fields if getattr(current, name) != getattr(updated, name)]
        if not changed:
            return {"camera": masked_fields(updated), "changed": [], "restarted": False}
        if current.enabled and not updated.enabled:
            self._keep_one_enabled(current.id, "disabling")
        restarted = self._apply(lambda: self._state.changed(current.id, changes),
                                lambda: self._cameras.replace(updated))
        self._report(event, updated, command.id, changed)
        return {"camera": masked_fields(updated), "changed": changed, "restarted": bool(restarted)}

    def _apply(self, save: Callable[[], None], apply: Callable[[], Any]) -> Any:
        """Save the change, then make it; a change that cannot be saved is not made, one that
        fails is taken back out of the saved state."""
        before = self._state.snapshot()
        try:
            save()
        except OSError as exc:
            raise CommandFailed("refused", f"the change cannot be saved in {self._state.path}: {exc}") from None
        try:
            return apply()
        except Exception as exc:
            log.exception("commands: applying a camera change failed")
            try:
                self._state.restore(before)
            except OSError:
                log.error("commands: cannot restore %s after the failed change", self._state.path)
            raise CommandFailed("refused", f"the change failed: {exc}") from None

    def _report(self, event: str, camera: CameraConfig | None, command_id: str, changed: list[str], *,
                camera_id: str | None = None) -> None:
        camera_id = camera.id if camera is not None else camera_id
        log.info("commands: %s %s (command %s%s)", event.replace("_", " "), camera_id, command_id,
                 f"; {', '.join(changed)}" if changed and event != "camera_added" else "")
        self._publish_event(event_payload(device_id=self._device_id, type=event, camera_id=camera_id,
                                          command_id=command_id, changed=changed, camera=camera))
