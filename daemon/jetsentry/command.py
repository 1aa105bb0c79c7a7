"""What the subcommands that parse their own arguments share: usage errors exit 2 with one line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

EXIT_USAGE = 2  # bad configuration or arguments


class UsageError(Exception):
    """Bad arguments or input; the message says what is wrong."""


def run_command(name: str, parser: argparse.ArgumentParser, argv: Sequence[str] | None,
                body: Callable[[argparse.Namespace], int]) -> int:
    """Parse ``argv`` and run ``body``; bad arguments, a UsageError, a missing optional
    dependency or a bad config end in one line on stderr and exit 2."""
    from jetsentry.config import ConfigError, report_config_error
    from jetsentry.optional import MissingDependencyError

    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed why
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        return body(args)
    except (UsageError, MissingDependencyError) as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        report_config_error(exc)
        return EXIT_USAGE
