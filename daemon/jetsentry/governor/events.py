"""Governor events: every backend switch, shedding step and recovery, as a JSON message.

Published on `{prefix}/{device_id}/events`, QoS 1, not retained, through the daemon's
publisher (so an event made while the broker is away waits in the outbox).  The model
generates config/events.schema.json (`python -m jetsentry.publish.schema events`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, Field

from jetsentry.publish.message import UtcTimestamp, format_utc_ms, message_config

SCHEMA_ID = "jetsentry.event/1"
Mode = Literal["normal", "shedding", "cpu_fallback"]
EventType = Literal[
    "fallback",  # traffic moved to the fallback backend
    "recovery",  # traffic moved back to the primary backend
    "switch_failed",  # a backend could not be built, warmed or probed: the serving one keeps serving
    "return_cancelled",  # the primary being prepared was dropped: the cause came back
    "shed",  # a camera's frame rate was lowered
    "restore",  # a camera's frame rate was raised again (or its shedding cap lifted)
    "trackers_reset",  # the new backend's classes differ: every camera starts without tracks
]


class GovernorEvent(BaseModel):
    model_config = message_config(SCHEMA_ID)

    schema_id: Literal["jetsentry.event/1"] = Field(alias="schema", description="Message format and version.")
    device_id: str = Field(description="Appliance id.")
    ts: UtcTimestamp = Field(description="When the governor decided or the switch happened.")
    type: EventType = Field(description="What happened.")
    reason: str = Field(description="Why, in words: the reading, threshold or error behind the decision.")
    mode: Mode = Field(description="The governor's mode after the event.")
    from_backend: str | None = Field(description="Backend serving before a switch (e.g. onnxruntime-cuda); "
                                                 "null for shedding events.")
    to_backend: str | None = Field(description="Backend serving after a switch, or the one that failed to be "
                                               "prepared; null for shedding events.")
    temperatures_c: dict[str, float] = Field(description="Latest temperatures, sensor or zone -> °C.")
    camera_id: str | None = Field(description="The camera a shedding step changed; null otherwise.")
    fps_cap: float | None = Field(
        description="The camera's shedding cap after the step, frames/s; null when lifted or not a shedding event."
    )
    switches: int = Field(ge=0, description="Backend switches since the daemon started, this one included.")


def event_payload(
    *, device_id: str, ts: float, type: str, reason: str, mode: str, from_backend: str | None = None,
    to_backend: str | None = None, temperatures_c: Mapping[str, float] | None = None, camera_id: str | None = None,
    fps_cap: float | None = None, switches: int = 0,
) -> bytes:
    """The event's JSON (validated by the model)."""
    event = GovernorEvent(
        schema_id=SCHEMA_ID, device_id=device_id, ts=format_utc_ms(ts), type=type, reason=reason, mode=mode,
        from_backend=from_backend, to_backend=to_backend,
        temperatures_c={name: round(float(value), 2) for name, value in (temperatures_c or {}).items()},
        camera_id=camera_id, fps_cap=None if fps_cap is None else round(float(fps_cap), 3), switches=switches,
    )
    return event.model_dump_json(by_alias=True).encode()
