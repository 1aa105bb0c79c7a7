"""The retained health message: its pydantic models (they generate config/health.schema.json).

Published on `{prefix}/{device_id}/health`, retained, QoS 1: at once on every change of
state or of what it concerns, and at least every `health.interval_s`.  It is built a few
times a minute at most, so it is built through the models themselves.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from jetsentry.capture.state import SessionState
from jetsentry.health.state import Health
from jetsentry.publish.message import UtcTimestamp, message_config

SCHEMA_ID = "jetsentry.health/1"
Count = Annotated[int, Field(ge=0)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CameraHealth(_Part):
    state: SessionState = Field(description="Capture session state.")
    frames: Count = Field(description="Frames handed to inference since the daemon started.")
    dropped: Count = Field(description="Frames dropped by fps_cap, because inference was busy, or by load shedding.")
    dropped_policy: Count = Field(description="Of those, frames dropped by the governor's load shedding.")
    reconnects: Count = Field(description="Connection attempts after the first.")
    decode_errors: Count = Field(description="Decoder errors and warnings since the daemon started.")
    last_error: str | None = Field(description="The latest capture error, or null.")


class InferenceHealth(_Part):
    frames: Count = Field(description="Frames inferred since the daemon started.")
    batches: Count = Field(description="Batches inferred and published.")
    batch_errors: Count = Field(description="Batches that failed since the daemon started.")
    consecutive_batch_errors: Count = Field(description="Batches that failed since the last one that succeeded.")
    fps: float = Field(ge=0, description="Frames inferred per second since the previous health report.")


class MqttHealth(_Part):
    connected: bool = Field(description="Connected to the broker when the message was built.")
    queued: Count = Field(description="Messages waiting for the broker's acknowledgement.")
    sent: Count = Field(description="Messages the broker acknowledged.")
    dropped_overflow: Count = Field(description="Oldest messages dropped because the outbox was full.")
    reconnects: Count = Field(description="Connection attempts after the first.")


class GovernorHealth(_Part):
    mode: Literal["normal", "shedding", "cpu_fallback"] = Field(
        description="normal: the primary backend serves every camera at its rate; shedding: some cameras' "
        "frame rates are lowered; cpu_fallback: the fallback backend serves (shedding may also be on)."
    )
    backend: str = Field(description="The backend serving now, naming its device, e.g. onnxruntime-cuda.")
    since: UtcTimestamp = Field(description="When the governor entered this mode.")
    reason: str = Field(description="Why the governor is in this mode (its latest decision).")
    temperatures_c: dict[str, float] = Field(description="Latest temperatures, sensor or zone -> °C.")
    gpu_load: float | None = Field(description="GPU busy share 0..1; null when no monitor reads it.")
    gpu_memory_used_bytes: int | None = Field(description="Device memory in use; null when no monitor reads it.")
    switches: Count = Field(description="Backend switches since the daemon started.")
    shed_cameras: dict[str, float] = Field(description="Camera id -> the frame rate cap load shedding holds it at.")


class HealthMessage(_Part):
    model_config = message_config(SCHEMA_ID)

    schema_id: Literal["jetsentry.health/1"] = Field(alias="schema", description="Message format and version.")
    device_id: str = Field(description="Appliance id.")
    ts: UtcTimestamp = Field(description="When this message was built.")
    state: Health = Field(
        description="ok: every check passes; degraded: the daemon works, with faults (a camera down, decode "
        "errors, failed batches, the broker away); failing: it does no useful work (no working camera, or "
        "inference failing batch after batch). Meaningful while the status topic says online."
    )
    since: UtcTimestamp = Field(description="When the daemon entered this state.")
    reasons: list[str] = Field(description="'subject: detail' for each fault found; empty when ok.")
    cameras: dict[str, CameraHealth] = Field(description="Per enabled camera, by camera id.")
    inference: InferenceHealth = Field(description="The inference loop's counters.")
    mqtt: MqttHealth = Field(description="The broker connection and the outbox.")
    governor: GovernorHealth | None = Field(
        None, description="The health governor's state; null when the governor is off (governor.enabled)."
    )
