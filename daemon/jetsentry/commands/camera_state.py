"""The cameras changed by commands, kept in `<state_dir>/cameras.json` so they survive a restart.

The file holds changes on top of the configuration file, not a copy of it:

    {"version": 1, "overrides": {camera id: fields}, "removed": [camera ids]}

For a camera of the configuration file, its overrides are fields that replace the file's
(update_camera, enable/disable, set_fps_cap); for a camera added by a command, they are its
whole definition.  `removed` names configuration-file cameras removed by a command (one
added again with the same id is then wholly in overrides).  Values are kept as the commands
gave them: a password given as {credential: NAME} stays a reference.  Written atomically
(atomicfile.py), 0600.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jetsentry.atomicfile import write_atomically
from jetsentry.config.errors import validation_problems
from jetsentry.config.models import CameraConfig

log = logging.getLogger("jetsentry.commands")

FILE_NAME = "cameras.json"
VERSION = 1


def camera_fields(camera: CameraConfig) -> dict[str, Any]:
    """The camera as plain fields that validate back to it (source and password unmasked)."""
    fields = camera.model_dump(mode="json")
    fields["source"] = camera.source
    if camera.rtsp.password is not None:
        fields["rtsp"]["password"] = camera.rtsp.password.get_secret_value()
    return fields


def masked_fields(camera: CameraConfig) -> dict[str, Any]:
    """The camera as plain fields with passwords masked (for replies and events)."""
    return camera.model_dump(mode="json")


class CameraState:
    """The persisted camera changes; `apply` gives the cameras the daemon runs."""

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / FILE_NAME
        self.overrides: dict[str, dict[str, Any]] = {}
        self.removed: list[str] = []
        self.configured_ids: set[str] = set()  # the configuration file's cameras (set by apply)
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            aside = self.path.with_name(f"{FILE_NAME}.unreadable")
            log.error("commands: %s cannot be read (%s); moved to %s, the cameras of the configuration file run",
                      self.path, exc, aside)
            try:
                os.replace(self.path, aside)
            except OSError:
                pass
            return
        if not isinstance(data, dict) or data.get("version") != VERSION:
            log.error("commands: %s is not a version-%d camera state file; ignored", self.path, VERSION)
            return
        overrides, removed = data.get("overrides", {}), data.get("removed", [])
        if isinstance(overrides, dict):
            self.overrides = {str(k): v for k, v in overrides.items() if isinstance(v, dict)}
        if isinstance(removed, list):
            self.removed = [str(r) for r in removed]

    def apply(self, configured: Sequence[CameraConfig]) -> list[CameraConfig]:
        """The configuration file's cameras with the persisted changes applied, then the added
        ones.  A change that no longer validates (the configuration file changed under it) is
        logged and left out; the other cameras run."""
        self.configured_ids = {camera.id for camera in configured}
        cameras: list[CameraConfig] = []
        done: set[str] = set()
        for camera in configured:
            if camera.id in self.removed:
                continue
            done.add(camera.id)
            changes = self.overrides.get(camera.id)
            if not changes:
                cameras.append(camera)
                continue
            merged = self._validated(camera.id, {**camera_fields(camera), **changes, "id": camera.id},
                                     otherwise="running it as configured")
            cameras.append(merged if merged is not None else camera)
        for camera_id, fields in self.overrides.items():
            if camera_id not in done:
                added = self._validated(camera_id, {**fields, "id": camera_id}, otherwise="left out")
                if added is not None:
                    cameras.append(added)
        return cameras

    def _validated(self, camera_id: str, fields: Mapping[str, Any], *, otherwise: str) -> CameraConfig | None:
        try:
            return CameraConfig.model_validate(fields)
        except ValidationError as exc:
            log.error("commands: camera %s as changed by commands no longer validates (%s); %s (%s)", camera_id,
                      "; ".join(validation_problems(exc)), otherwise, self.path)
            return None

    # ---- changes (each saved before it counts as done) ------------------------------

    def added(self, camera_id: str, fields: Mapping[str, Any]) -> None:
        """A camera added with these fields (its id may be a removed configuration-file camera's)."""
        self.overrides[camera_id] = {k: v for k, v in fields.items() if k != "id"}
        if camera_id in self.configured_ids and camera_id not in self.removed:
            self.removed.append(camera_id)
        self.save()

    def changed(self, camera_id: str, changes: Mapping[str, Any]) -> None:
        self.overrides[camera_id] = {**self.overrides.get(camera_id, {}), **changes}
        self.save()

    def dropped(self, camera_id: str) -> None:
        self.overrides.pop(camera_id, None)
        if camera_id in self.configured_ids and camera_id not in self.removed:
            self.removed.append(camera_id)
        self.save()

    def snapshot(self) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """The current changes, to restore() if applying a new one fails."""
        return {k: dict(v) for k, v in self.overrides.items()}, list(self.removed)

    def restore(self, saved: tuple[dict[str, dict[str, Any]], list[str]]) -> None:
        self.overrides, self.removed = saved
        self.save()

    def save(self) -> None:
        """OSError when the state directory cannot be written."""
        data = {"version": VERSION, "overrides": self.overrides, "removed": self.removed}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path, (json.dumps(data, indent=1) + "\n").encode())
        os.chmod(self.path, 0o600)  # it may hold an RTSP password given in a command


def with_camera_changes(cfg):
    """(cfg with the cameras changed by commands, the CameraState that holds the changes)."""
    state = CameraState(cfg.state_dir)
    cameras = state.apply(cfg.cameras)
    if state.overrides or state.removed:
        log.info("commands: %d camera change(s) made by commands applied (%s)",
                 len(state.overrides) + len(state.removed), state.path)
    return cfg.model_copy(update={"cameras": cameras}), state
