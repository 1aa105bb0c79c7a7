"""A FAKE tegrastats (this machine is no Jetson): prints recorded lines as the real tool does.

    fake_tegrastats.py --interval MS

prints tests/health/monitors/tegrastats_lines.ALL in turn, one line every MS ms, flushed,
until stopped.  FAKE_TEGRASTATS_LINES names a file of lines to print instead;
FAKE_TEGRASTATS_EXIT_AFTER=N makes it print N lines, then a message, then exit with status 3.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.health.monitors.tegrastats_lines import ALL  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(prog="tegrastats")
    parser.add_argument("--interval", type=int, required=True)
    args = parser.parse_args()
    source = os.environ.get("FAKE_TEGRASTATS_LINES")
    lines = Path(source).read_text().splitlines() if source else list(ALL)
    exit_after = int(os.environ.get("FAKE_TEGRASTATS_EXIT_AFTER", "0"))
    for count, line in enumerate(itertools.cycle(lines), 1):
        print(line, flush=True)
        if exit_after and count >= exit_after:
            print("fake tegrastats: told to stop", flush=True)
            return 3
        time.sleep(args.interval / 1e3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
