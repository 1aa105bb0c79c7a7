"""How a CPU engine cuts one batch into engine runs, some of them concurrent.

ONNX Runtime parallelises each operator over its intra-op threads, and every operator
ends at a barrier.  On a small CPU those barriers cost: with 2 cores, two single-threaded
runs on two frames side by side do more frames/s than one 2-thread run after the other,
and they do not slow down when the host's vCPUs are scheduled less evenly
(docs/PERFORMANCE.md, row 1).  So a batch of several frames is split into
``parallel`` groups of whole frames (or whole static-batch chunks), run concurrently on
single-threaded sessions; frames that do not divide evenly, and a batch of one, run on
the all-core session, which keeps one frame's latency as low as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from jetsentry.config.rules import check_parallel_runs


@dataclass(frozen=True, slots=True)
class RunPlan:
    """Engine runs for one batch; each slice is one ``session.run`` over ``batch[slice]``."""

    concurrent: tuple[tuple[slice, ...], ...]  # one group per concurrent worker, its runs in order
    after: tuple[slice, ...]  # runs on the all-core session, once the concurrent groups are done


def plan_runs(batch: int, chunk: int | None, parallel: int) -> RunPlan:
    """Split ``batch`` frames for a model with a static batch ``chunk`` (None: any batch size).

    A static model runs chunk by chunk (the last one may be short; the engine pads it);
    a dynamic model runs each group of frames as one call.
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    check_parallel_runs(parallel, allow_auto=False)
    step = chunk or 1
    units = [slice(start, min(start + step, batch)) for start in range(0, batch, step)]
    if parallel == 1 or len(units) < 2:
        return RunPlan(concurrent=(), after=_merged(units, chunk))
    parts = min(parallel, len(units))
    per_part = len(units) // parts
    groups = tuple(_merged(units[i * per_part : (i + 1) * per_part], chunk) for i in range(parts))
    return RunPlan(concurrent=groups, after=_merged(units[parts * per_part :], chunk))


def _merged(units: list[slice], chunk: int | None) -> tuple[slice, ...]:
    """A dynamic model takes consecutive frames in one call; a static model one chunk per call."""
    if chunk is not None or not units:
        return tuple(units)
    return (slice(units[0].start, units[-1].stop),)
