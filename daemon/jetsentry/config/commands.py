"""The `commands:` section: the MQTT commands topic and snapshots (docs/MQTT.md, Commands)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CommandsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True, hide_input_in_errors=True)  # as StrictModel

    enabled: bool = Field(
        True,
        description="Subscribe to <prefix>/<device_id>/commands and answer on .../commands/result "
        "(add, update, remove, enable or disable cameras, fps caps, snapshots, status).",
    )
    max_payload_bytes: int = Field(
        65_536, ge=256, le=1 << 20,
        description="A command longer than this is refused unread (error payload_too_large).",
    )
    remembered_ids: int = Field(
        1_000, ge=1, le=100_000,
        description="Replies kept by command id (in <state_dir>/commands.json, across restarts): a command "
        "whose id is among them is not executed again, its first reply is sent again.",
    )
    snapshot_max_bytes: int = Field(
        1_048_576, ge=16_384, le=64 << 20,
        description="Largest snapshot JPEG published over MQTT: a larger one is encoded again at lower "
        "quality, then at a smaller size, until it fits.",
    )
    snapshot_quality: int = Field(85, ge=10, le=100, description="JPEG quality of snapshots (MQTT and HTTP).")
