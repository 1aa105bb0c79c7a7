"""The commands a device takes on `{prefix}/{device_id}/commands`, its replies on
`.../commands/result` and the camera events on `.../events`: their pydantic models.

The models generate config/commands.schema.json, config/command_result.schema.json and
config/camera_event.schema.json (`python -m jetsentry.publish.schema commands`, ...).  A
camera definition is the configuration file's camera (config/models.py CameraConfig),
validated by the same model.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, RootModel

from jetsentry.config.models import CameraConfig
from jetsentry.publish.message import UtcTimestamp, message_config

RESULT_SCHEMA_ID = "jetsentry.command_result/1"
EVENT_SCHEMA_ID = "jetsentry.camera_event/1"

CommandId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$",
                                 description="Chosen by the sender, unique per command: a command sent again "
                                 "with the same id is not executed again (its first reply is sent again).")]
CameraId = Annotated[str, Field(min_length=1, max_length=64, description="The camera's id.")]
# What update_camera may change: every camera field but its id.
CHANGEABLE_FIELDS = tuple(name for name in CameraConfig.model_fields if name != "id")


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    id: CommandId


class AddCamera(_Command):
    """Start a new camera (persisted: it is there after a restart)."""

    type: Literal["add_camera"]
    camera: CameraConfig = Field(description="The camera, as in the configuration file's cameras list.")


class UpdateCamera(_Command):
    """Change fields of a camera; its session restarts unless only fps_cap or priority changed.
    Each field given replaces the camera's field whole (rtsp as a whole)."""

    type: Literal["update_camera"]
    camera_id: CameraId
    changes: dict[str, Any] = Field(
        min_length=1,
        description="Camera fields and their new values (not id).",
        json_schema_extra={"propertyNames": {"enum": list(CHANGEABLE_FIELDS)}},
    )


class RemoveCamera(_Command):
    """Stop a camera and forget it (persisted)."""

    type: Literal["remove_camera"]
    camera_id: CameraId


class EnableCamera(_Command):
    """Set enabled: true and start the camera's session."""

    type: Literal["enable_camera"]
    camera_id: CameraId


class DisableCamera(_Command):
    """Set enabled: false and stop the camera's session (the camera stays configured)."""

    type: Literal["disable_camera"]
    camera_id: CameraId


class SetFpsCap(_Command):
    """Set a camera's fps_cap without restarting its session; null lifts it."""

    type: Literal["set_fps_cap"]
    camera_id: CameraId
    fps_cap: Annotated[float, Field(gt=0, le=240)] | None = Field(description="Frames per second, or null.")


class Snapshot(_Command):
    """Publish the camera's newest processed frame as a JPEG with its detections drawn on
    `{prefix}/{device_id}/{camera_id}/snapshot`."""

    type: Literal["snapshot"]
    camera_id: CameraId


class Status(_Command):
    """Reply with the cameras, health and broker connection."""

    type: Literal["status"]


Command = Annotated[
    Union[AddCamera, UpdateCamera, RemoveCamera, EnableCamera, DisableCamera, SetFpsCap, Snapshot, Status],
    Field(discriminator="type"),
]
COMMAND_TYPES = ("add_camera", "update_camera", "remove_camera", "enable_camera", "disable_camera", "set_fps_cap",
                 "snapshot", "status")


class CommandMessage(RootModel[Command]):
    model_config = ConfigDict(
        title="jetsentry command", json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"})


ErrorCode = Literal[
    "payload_too_large",  # longer than commands.max_payload_bytes: not read
    "malformed_json",  # not UTF-8 JSON
    "not_an_object",  # JSON, but not an object
    "invalid_id",  # id missing, not a string, or not 1-128 printable ASCII characters
    "unknown_type",  # type missing or not one of the command types
    "invalid_field",  # a field missing, unknown, or with a value the schema or camera rules refuse
    "unknown_camera",  # no camera with that id
    "camera_exists",  # add_camera with an id in use
    "refused",  # valid, but not possible now (the last camera removed, no frame for a snapshot, ...)
    "busy",  # too many commands waiting: send it again later (same id)
    "internal",  # a bug; the daemon's log has the traceback
]


class CommandError(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: ErrorCode = Field(description="What kind of error.")
    message: str = Field(description="What is wrong, in words (names the field or camera).")


class CommandResult(BaseModel):
    model_config = message_config(RESULT_SCHEMA_ID)

    schema_id: Literal["jetsentry.command_result/1"] = Field(alias="schema", description="Message format and version.")
    device_id: str = Field(description="Appliance id.")
    id: str | None = Field(description="The command's id; null when it could not be read.")
    type: str | None = Field(description="The command's type; null when it could not be read.")
    ts: UtcTimestamp = Field(description="When the command was executed (a replayed id: the first time).")
    ok: bool = Field(description="Whether it was executed.")
    replayed: bool = Field(description="True when this id was executed before: this is its first reply again.")
    result: dict[str, Any] | None = Field(description="What the command did or reports; null on error.")
    error: CommandError | None = Field(description="Why it was not executed; null on success.")


EventType = Literal["camera_added", "camera_updated", "camera_removed", "camera_enabled", "camera_disabled",
                    "fps_cap_set"]


class CameraEvent(BaseModel):
    model_config = message_config(EVENT_SCHEMA_ID)

    schema_id: Literal["jetsentry.camera_event/1"] = Field(alias="schema", description="Message format and version.")
    device_id: str = Field(description="Appliance id.")
    ts: UtcTimestamp = Field(description="When the change was made.")
    type: EventType = Field(description="What changed.")
    camera_id: str = Field(description="The camera changed.")
    command_id: str = Field(description="The command that changed it.")
    changed: list[str] = Field(description="The camera fields changed (all of them for camera_added).")
    camera: dict[str, Any] | None = Field(
        description="The camera's definition after the change, passwords masked; null for camera_removed.")
