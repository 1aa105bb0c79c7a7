"""JSON Schema of the detections message, generated from the pydantic models.

`python -m jetsentry.publish.schema > config/detections.schema.json` regenerates the
committed file; a test fails when it is out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jetsentry.publish.message import DetectionsMessage


def detections_schema() -> dict:
    return DetectionsMessage.model_json_schema(by_alias=True)


def schema_text() -> str:
    """The schema as committed: 2-space indent, trailing newline."""
    return json.dumps(detections_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(path: str | Path) -> None:
    Path(path).write_text(schema_text(), encoding="utf-8")


def schema_is_current(path: str | Path) -> bool:
    """True when the file at path holds exactly the schema the models generate now."""
    try:
        return Path(path).read_text(encoding="utf-8") == schema_text()
    except FileNotFoundError:
        return False


def main() -> None:
    sys.stdout.write(schema_text())


if __name__ == "__main__":
    main()
