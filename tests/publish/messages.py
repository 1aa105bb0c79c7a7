"""Shared test data: detections messages and a validator for the committed JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np

from jetsentry.detections import Detections
from jetsentry.publish import ModelInfo, build_detections_message

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "detections.schema.json"
HEALTH_SCHEMA_PATH = SCHEMA_PATH.with_name("health.schema.json")
LABELS = ["person", "bicycle", "car"]
MODEL = ModelInfo(name="yolov8n-test", version="1", sha256="ab" * 32)
LATENCY = {"decode_to_batch": 1.5, "preprocess": 2.25, "inference": 30.125, "postprocess": 0.5, "tracking": 0.25,
           "total": 35.0}


def schema_validator(path: Path = SCHEMA_PATH) -> jsonschema.protocols.Validator:
    schema = json.loads(path.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def sample_detections() -> Detections:
    return Detections(
        boxes=np.array([[12.34, 5.0, 100.5, 80.25], [0.0, 0.0, 1919.99, 1079.5], [50, 60, 70, 80]], np.float32),
        scores=np.array([0.91234567, 0.5, 0.25], np.float32),
        class_ids=np.array([0, 2, 1], np.int32),
        track_ids=np.array([7, -1, 0], np.int64),
    )


def sample_message(camera_id: str = "cam1", seq: int = 0, detections: Detections | None = None,
                   run: int = 3) -> bytes:
    return build_detections_message(
        device_id="dev1",
        camera_id=camera_id,
        seq=seq,
        capture_ts=1714564800.1234,
        processed_ts=1714564800.2,
        model=MODEL,
        backend="onnxruntime-cpu",
        width=1920,
        height=1080,
        detections=sample_detections() if detections is None else detections,
        labels=LABELS,
        latency_ms=LATENCY,
        run=run,
    )
