"""One camera's decode problems across its pipelines: counted, and logged rate-limited."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from jetsentry.capture.decode_problems import DecodeProblems
from jetsentry.capture.errors import BadVideoFile
from jetsentry.capture.problem_log import RateLimitedLog

log = logging.getLogger("jetsentry.capture.session")


class CameraDecodeReport:
    """`decode_errors` counts every problem a pipeline met (decode_problems.py) and every
    file pass that ended short of the frames the file declares; `frames_lost` sums those
    shortfalls.  Only the session thread calls it."""

    def __init__(
        self, camera_id: str, source_name: str, *, interval_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._source = source_name  # masked: safe for messages
        self.decode_errors = 0
        self.frames_lost = 0
        self._seen = 0  # problems of the current pipeline already counted
        self._log = RateLimitedLog(log, f"camera {camera_id}: ", what="decode problems", interval_s=interval_s,
                                   clock=clock)

    def new_pipeline(self) -> None:
        self._seen = 0

    def collect(self, problems: DecodeProblems) -> None:
        """Count and log the problems `problems` met since the last call."""
        count, latest = problems.snapshot()
        new = count - self._seen
        if new > 0:
            self._seen = count
            self.decode_errors += new
            self._log.event(f"decode problem in {self._source}: {latest}", new)

    def end_of_pass(self, problems: DecodeProblems, decoded: int, declared: int | None) -> None:
        """A file reached its end after `decoded` frames.  None at all raises BadVideoFile
        (looping it would spin without a frame); fewer than `declared` is a problem."""
        if decoded == 0:
            count, latest = problems.snapshot()
            detail = f" ({count} decode problem(s), latest: {latest})" if count else ""
            raise BadVideoFile(f"no frame decoded in a whole pass of {self._source}{detail}")
        if declared is not None and decoded < declared:
            lost = declared - decoded
            self.frames_lost += lost
            self.decode_errors += 1
            self._log.event(f"{self._source}: a pass decoded {decoded} of the {declared} frames the file declares "
                            f"({lost} lost)")

    def tick(self) -> None:
        self._log.tick()
