"""The per-frame detections message: its pydantic models (the schema) and a fast builder.

The models describe the message and generate `config/detections.schema.json`; the builder
does not construct them per frame (too slow for the hot path).  It serialises the arrays
of a `Detections` directly, and the tests validate its output against the schema.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from jetsentry.detections import Detections

SCHEMA_ID = "jetsentry.detections/2"
LATENCY_STAGES = ("decode_to_batch", "preprocess", "inference", "postprocess", "tracking", "total")

# Decimal places kept in the JSON.  0.01 px and 1e-4 score are far below what any
# detector resolves, and short numbers keep messages small.
BBOX_DECIMALS = 2
SCORE_DECIMALS = 4
LATENCY_DECIMALS = 3

# One encoder for every message: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)

_UTC_MS_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
UtcTimestamp = Annotated[
    str,
    Field(
        pattern=_UTC_MS_PATTERN,
        json_schema_extra={"format": "date-time"},
        description="UTC, ISO 8601 with milliseconds and 'Z', e.g. 2024-05-01T12:00:00.123Z.",
    ),
]
Milliseconds = Annotated[float, Field(ge=0)]


class _MessagePart(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def message_config(schema_id: str) -> ConfigDict:
    """The model_config of a whole message: closed, frozen, titled with its format id."""
    return ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        title=schema_id,
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )


class ModelInfo(_MessagePart):
    name: str = Field(min_length=1, description="Model name (from the ONNX metadata or file name).")
    version: str = Field(description="Model version (from the ONNX metadata; empty when it has none).")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the model file, lowercase hex.")


class FrameSize(_MessagePart):
    width: int = Field(ge=1, description="Source frame width in pixels.")
    height: int = Field(ge=1, description="Source frame height in pixels.")


class DetectionItem(_MessagePart):
    track_id: Annotated[int, Field(ge=0)] | None = Field(
        description="Track id, stable within a camera; null when the detection is not tracked."
    )
    class_id: int = Field(ge=0, description="Class index of the model.")
    label: str = Field(description="Class name of the model.")
    score: float = Field(ge=0, le=1, description="Detection confidence.")
    bbox: list[float] = Field(min_length=4, max_length=4, description="[x1, y1, x2, y2] in source pixels.")


class LatencyMs(_MessagePart):
    decode_to_batch: Milliseconds = Field(description="From capture hand-over to the frame entering a batch.")
    preprocess: Milliseconds = Field(
        description="The engine's pre-processing of the batch this frame was in: colour conversion, letterbox and "
        "tensor conversion (on a GPU backend, the letterbox kernel)."
    )
    inference: Milliseconds = Field(
        description="Engine run of the batch this frame was in (on a GPU backend with the selection of the "
        "anchors above the threshold on the GPU)."
    )
    postprocess: Milliseconds = Field(description="Head decoding (the rest of it, on a GPU backend) and NMS for this frame.")
    tracking: Milliseconds = Field(
        description="The tracking pass this frame was in: one pass tracks a frame of each camera of the batch."
    )
    total: Milliseconds = Field(description="From capture hand-over to the message being built (monotonic clock).")


class DetectionsMessage(_MessagePart):
    model_config = message_config(SCHEMA_ID)

    # Aliased: a field called `schema` would shadow BaseModel.schema().
    schema_id: Literal["jetsentry.detections/2"] = Field(alias="schema", description="Message format and version.")
    message_id: str = Field(
        pattern=r"^[^/]+/[^/]+/\d+/\d+$",
        description="{device_id}/{camera_id}/{run}/{seq}: unique across restarts and the same in every resend. "
        "Delivery is at least once: subscribers de-duplicate by message_id, and detect gaps per "
        "(device_id, camera_id, run) from seq.",
    )
    device_id: str = Field(description="Appliance id.")
    camera_id: str = Field(description="Camera id.")
    run: int = Field(ge=0, description="The daemon's start count (raised at every start, kept in its state "
                     "directory); 0 from tools that publish without one.")
    seq: int = Field(ge=0, description="Frame sequence number per camera within a run, from 0; it increases "
                     "across reconnects, and a frame dropped before inference (busy, fps_cap) leaves a gap.")
    capture_ts: UtcTimestamp = Field(description="When the frame was captured (source clock where it has one).")
    processed_ts: UtcTimestamp = Field(description="When this message was built.")
    model: ModelInfo = Field(description="The detector that produced the detections.")
    backend: str = Field(description="Inference backend, e.g. onnxruntime-cpu.")
    frame: FrameSize = Field(description="Source frame size; bbox coordinates refer to it.")
    detections: list[DetectionItem] = Field(description="Detections after NMS (and tracking when enabled).")
    latency_ms: LatencyMs = Field(description="Per-stage latency in milliseconds.")


def format_utc_ms(epoch_s: float) -> str:
    """Epoch seconds -> '2024-05-01T12:00:00.123Z' (rounded to the millisecond)."""
    if not math.isfinite(epoch_s):
        raise ValueError(f"timestamp must be a finite number of epoch seconds, got {epoch_s!r}")
    seconds, millis = divmod(math.floor(epoch_s * 1000.0 + 0.5), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def _check_detections(detections: Detections, n_labels: int) -> None:
    n = len(detections)
    shapes = {
        "boxes": (detections.boxes.shape, (n, 4)),
        "scores": (detections.scores.shape, (n,)),
        "class_ids": (detections.class_ids.shape, (n,)),
        "track_ids": (detections.track_ids.shape, (n,)),
    }
    for name, (got, want) in shapes.items():
        if got != want:
            raise ValueError(f"detections.{name} has shape {got}, expected {want} (scores has {n} rows)")
    if n and (detections.class_ids.min() < 0 or detections.class_ids.max() >= n_labels):
        raise ValueError(
            f"detections.class_ids span {detections.class_ids.min()}..{detections.class_ids.max()}, "
            f"but only {n_labels} labels were given"
        )


def _latency_dict(latency_ms: Mapping[str, float]) -> dict[str, float]:
    if len(latency_ms) != len(LATENCY_STAGES) or any(stage not in latency_ms for stage in LATENCY_STAGES):
        missing = [s for s in LATENCY_STAGES if s not in latency_ms]
        unknown = [k for k in latency_ms if k not in LATENCY_STAGES]
        raise ValueError(f"latency_ms must have exactly {list(LATENCY_STAGES)}; missing {missing}, unknown {unknown}")
    return {stage: round(float(latency_ms[stage]), LATENCY_DECIMALS) for stage in LATENCY_STAGES}


def _detection_items(detections: Detections, labels: np.ndarray) -> list[dict[str, object]]:
    if len(detections) == 0:  # many frames have none: skip the column conversions
        return []
    # Columns are rounded and converted in bulk; the comprehension only zips ready
    # Python values into the dicts json.dumps needs.  float64 before rounding, or
    # float32 noise reappears in the JSON (12.34 -> 12.340000152587891).
    boxes = np.round(detections.boxes.astype(np.float64), BBOX_DECIMALS).tolist()
    scores = np.round(detections.scores.astype(np.float64), SCORE_DECIMALS).tolist()
    class_ids = detections.class_ids.astype(np.int64)
    track_ids = detections.track_ids.astype(object)
    track_ids[detections.track_ids < 0] = None
    return [
        {"track_id": t, "class_id": c, "label": name, "score": s, "bbox": b}
        for t, c, name, s, b in zip(
            track_ids.tolist(), class_ids.tolist(), labels[class_ids].tolist(), scores, boxes
        )
    ]


def build_detections_message(
    *,
    device_id: str,
    camera_id: str,
    seq: int,
    capture_ts: float,
    model: ModelInfo,
    backend: str,
    width: int,
    height: int,
    detections: Detections,
    labels: Sequence[str] | np.ndarray,
    latency_ms: Mapping[str, float],
    processed_ts: float | None = None,
    run: int = 0,
) -> bytes:
    """Compact JSON (ASCII, so also UTF-8) of one frame's detections (format `jetsentry.detections/2`).

    capture_ts and processed_ts are epoch seconds (processed_ts defaults to now); run is the
    daemon's start count (publish/run_counter.py), part of message_id;
    labels[class_id] names each class (pass a numpy object array to skip a conversion);
    latency_ms has exactly the keys in LATENCY_STAGES.
    """
    label_array = np.asarray(labels, dtype=object)
    _check_detections(detections, len(label_array))
    message = {
        "schema": SCHEMA_ID,
        "message_id": f"{device_id}/{camera_id}/{int(run)}/{int(seq)}",
        "device_id": device_id,
        "camera_id": camera_id,
        "run": int(run),
        "seq": int(seq),
        "capture_ts": format_utc_ms(capture_ts),
        "processed_ts": format_utc_ms(time.time() if processed_ts is None else processed_ts),
        "model": {"name": model.name, "version": model.version, "sha256": model.sha256},
        "backend": backend,
        "frame": {"width": int(width), "height": int(height)},
        "detections": _detection_items(detections, label_array),
        "latency_ms": _latency_dict(latency_ms),
    }
    try:
        text = _ENCODER.encode(message)
    except ValueError:
        raise ValueError(
            f"camera {camera_id!r} seq {seq}: detections or latencies contain NaN or infinity"
        ) from None
    return text.encode("ascii")  # ensure_ascii (the default) is the faster encoder path
