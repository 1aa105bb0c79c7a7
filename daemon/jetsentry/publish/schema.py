"""JSON Schemas of the published messages, generated from their pydantic models.

`python -m jetsentry.publish.schema > config/detections.schema.json` and
`python -m jetsentry.publish.schema health > config/health.schema.json` and
`python -m jetsentry.publish.schema events > config/events.schema.json` regenerate the
committed files, and so on for commands, command_result and camera_event; a test fails when
one is out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from jetsentry.commands.models import CameraEvent, CommandMessage, CommandResult
from jetsentry.governor.events import GovernorEvent
from jetsentry.health.message import HealthMessage
from jetsentry.publish.message import DetectionsMessage

MESSAGES: dict[str, type[BaseModel]] = {
    "detections": DetectionsMessage, "health": HealthMessage, "events": GovernorEvent,
    "commands": CommandMessage, "command_result": CommandResult, "camera_event": CameraEvent,
}


def message_schema(kind: str) -> dict:
    return MESSAGES[kind].model_json_schema(by_alias=True)


def schema_text(kind: str = "detections") -> str:
    """The schema as committed: 2-space indent, trailing newline."""
    return json.dumps(message_schema(kind), indent=2, ensure_ascii=False) + "\n"


def write_schema(path: str | Path, kind: str = "detections") -> None:
    Path(path).write_text(schema_text(kind), encoding="utf-8")


def schema_is_current(path: str | Path, kind: str = "detections") -> bool:
    """True when the file at path holds exactly the schema the models generate now."""
    try:
        return Path(path).read_text(encoding="utf-8") == schema_text(kind)
    except FileNotFoundError:
        return False


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    kind = args[0] if args else "detections"
    if len(args) > 1 or kind not in MESSAGES:
        print(f"usage: python -m jetsentry.publish.schema [{'|'.join(MESSAGES)}]", file=sys.stderr)
        return 2
    sys.stdout.write(schema_text(kind))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
