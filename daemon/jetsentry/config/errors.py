"""ConfigError and the one way every command prints it."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from pydantic import ValidationError

from jetsentry.config.limits import cut

# One problem line is cut to this many characters (a message may quote a value).
PROBLEM_CHARS = 400


class ConfigError(Exception):
    """Configuration could not be loaded; `problems` holds one line per error."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = [cut(" ".join(p.split()), PROBLEM_CHARS) for p in problems]
        super().__init__(f"{source}: " + "; ".join(self.problems))


def report_config_error(exc: ConfigError, stream: TextIO | None = None) -> None:
    """`<source>: N error(s)` and one indented line per problem, on stderr."""
    stream = sys.stderr if stream is None else stream
    print(f"{exc.source}: {len(exc.problems)} error(s)", file=stream)
    for problem in exc.problems:
        print(f"  {problem}", file=stream)


def format_location(loc: tuple[Any, ...]) -> str:
    """('cameras', 1, 'source') -> 'cameras[1].source'"""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + cut(str(part))
    return out or "<root>"


def validation_problems(exc: ValidationError, origins: dict[tuple[Any, ...], str] | None = None) -> list[str]:
    """One line per pydantic error: `location: message`, plus the environment variable
    that set the value when `origins` (location -> variable name) has one."""
    problems = []
    for err in exc.errors():
        # Drop pydantic's internal tags for unions/validators from the path.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and ("function-" in p or p.startswith("constrained"))))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not a configuration field)"
        variable = _origin(loc, origins or {})
        problems.append(f"{format_location(loc)}: {msg}" + (f" (set by {variable})" if variable else ""))
    return problems


def _origin(loc: tuple[Any, ...], origins: dict[tuple[Any, ...], str]) -> str | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in origins:
            return origins[loc[:end]]
    return None
