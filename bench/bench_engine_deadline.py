"""What the engine-call deadline costs per batch, in microseconds (target: tens of µs).

With ``governor.engine_timeout_s`` the primary's engine call of each batch runs on a worker
thread the inference thread waits on (infer/deadline.py): a queue put, a thread wake-up and an
Event each way.  This times that hand-off alone: a call that returns at once, made directly
and through ``EngineDeadline.call``, in interleaved rounds on one core (the worst case: the two
threads take turns on it); the figure is the difference of the per-round medians.

    python bench/bench_engine_deadline.py [--rounds 30] [--calls 3000] [--core 0] [--name NAME]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from common import CpuMonitor, bench_arguments, wait_for_quiet, write_result

TARGET_US_PER_BATCH = 50.0


def engine_call(batch):
    """Stands in for the engine: the cost measured is the hand-off around it."""
    return batch


def per_call_us(call, calls: int) -> float:
    start = time.perf_counter()
    for i in range(calls):
        call(engine_call, i)
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "engine_deadline", model=False, clip=False)
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=3000, help="calls per round")
    parser.add_argument("--core", type=int, default=0, help="the core the benchmark is pinned to")
    args = parser.parse_args()

    from jetsentry.infer.deadline import EngineDeadline

    os.sched_setaffinity(0, {args.core})  # the worker thread, started below, inherits it
    deadline = EngineDeadline(5.0, name="bench")
    direct = lambda fn, *a: fn(*a)  # noqa: E731
    deadline.call(engine_call, 0)  # the worker thread exists before timing
    if not args.no_wait:
        wait_for_quiet()
    rounds = {"direct": [], "deadline": []}
    with CpuMonitor() as monitor:
        for _ in range(args.rounds):
            rounds["direct"].append(per_call_us(direct, args.calls))
            rounds["deadline"].append(per_call_us(deadline.call, args.calls))
    deadline.close()
    with_us, without_us = statistics.median(rounds["deadline"]), statistics.median(rounds["direct"])
    added = with_us - without_us
    met = added <= TARGET_US_PER_BATCH
    print(f"bench_engine_deadline: {added:.1f} us per batch on one core (through the deadline {with_us:.1f} us, "
          f"direct {without_us:.2f} us; target <= {TARGET_US_PER_BATCH:g} us: {'met' if met else 'NOT met'}); "
          f"other processes {monitor.record['foreign_cores']:.2f} cores", flush=True)
    write_result(args.name, {"core": args.core, "rounds": args.rounds, "calls_per_round": args.calls,
                             "deadline_us_per_call": round(with_us, 2), "direct_us_per_call": round(without_us, 3),
                             "added_us_per_batch": round(added, 2),
                             "deadline_rounds_us": [round(v, 2) for v in rounds["deadline"]],
                             "target_us_per_batch": TARGET_US_PER_BATCH, "target_met": met}, load=monitor.record)


if __name__ == "__main__":
    main()
