"""Idle scheduling for threads whose work only fills CPU time inference leaves unused."""

from __future__ import annotations

import os


def make_this_thread_idle() -> None:
    """Switch the calling thread to SCHED_IDLE (Linux applies pid 0 to the calling thread).

    One-way for an unprivileged process: a thread cannot leave SCHED_IDLE again, and
    threads it creates afterwards inherit the policy.
    """
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
