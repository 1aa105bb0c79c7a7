"""`jetsentry` with a test fake around the real engine: inference hangs while a file exists.

Run as ``python -m tests.support.wedgeable_engine run --config FILE`` with
$JETSENTRY_TEST_WEDGE naming the switch file.  The real engine (ONNX Runtime) does every
inference; `WedgeableEngine.infer` first waits, without returning, for as long as the file
exists (a wedged inference, as a hung GPU driver call would be), writing ``<file>.entered``
when a call starts waiting and appending a line to ``<file>.runs`` after each inference.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any


class WedgeableEngine:
    """Test fake: the real engine behind a hang switched on and off by a file."""

    def __init__(self, engine: Any, switch: Path) -> None:
        self._engine = engine
        self._switch = switch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def infer(self, batch: Any) -> Any:
        if self._switch.exists():
            self._switch.with_suffix(".entered").write_text("waiting\n")
            while self._switch.exists():
                time.sleep(0.02)
        output = self._engine.infer(batch)
        with open(self._switch.with_suffix(".runs"), "a") as runs:
            runs.write("ran\n")
        return output


def main(argv: list[str]) -> int:
    import jetsentry.infer.detector as detector_module
    from jetsentry.cli import main as jetsentry_main

    switch = Path(os.environ["JETSENTRY_TEST_WEDGE"])
    real_create_engine = detector_module.create_engine

    def create_wedgeable(model_cfg, options=None):
        return WedgeableEngine(real_create_engine(model_cfg, options), switch)

    detector_module.create_engine = create_wedgeable
    return jetsentry_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
