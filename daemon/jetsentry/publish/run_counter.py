"""The run counter: `<state_dir>/run`, raised at every start, the `run` of each message_id.

With it, `{device_id}/{camera_id}/{run}/{seq}` is unique across restarts (seq starts at 0
in every run) and a subscriber can tell a restart from a gap.  The file is replaced
atomically (temporary file, fsync, rename, fsync of the folder), so a crash leaves the old
number or the new one, never a torn file.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from jetsentry.atomicfile import write_atomically
from jetsentry.publish.outbox_db import OutboxError, check_writable_dir

log = logging.getLogger(__name__)

RUN_FILE = "run"


def next_run(state_dir: Path) -> int:
    """Read <state_dir>/run, store it plus one, return the new value (1 on the first start).

    OutboxError when the folder cannot be written.  An unreadable file is replaced by the
    current Unix time in seconds, which is larger than any count of starts, so ids stay
    unique; that is logged once."""
    folder = Path(state_dir)
    check_writable_dir(folder)
    path = folder / RUN_FILE
    try:
        previous = int(path.read_text(encoding="ascii").strip())
        if previous < 0:
            raise ValueError(f"negative run {previous}")
        run = previous + 1
    except FileNotFoundError:
        run = 1
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        run = int(time.time())
        log.error("run counter %s is unreadable (%s): continuing from %d (the Unix time) so message ids "
                  "stay unique", path, exc, run)
    try:
        write_atomically(path, f"{run}\n".encode("ascii"))
    except OSError as exc:
        raise OutboxError(f"cannot store the run counter in {path}: {exc.strerror or exc}") from None
    return run
