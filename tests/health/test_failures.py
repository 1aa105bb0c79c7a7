"""Repeated failures: the first in full, then a summary at most every interval, one line when they stop."""

from __future__ import annotations

import logging

import pytest

from jetsentry.health import RepeatedFailureLog, exception_summary
from tests.health.test_state import Clock

LOGGER = logging.getLogger("jetsentry.test.failures")


@pytest.fixture
def clock() -> Clock:
    return Clock(0.0)


@pytest.fixture
def failures(clock) -> RepeatedFailureLog:
    return RepeatedFailureLog(LOGGER, interval_s=30.0, clock=clock)


def fail(failures: RepeatedFailureLog, message: str = "shape mismatch") -> None:
    try:
        raise RuntimeError(message)
    except RuntimeError:
        failures.failed("batch of 2 frame(s) from ['a'] failed")


def records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER.name]


def test_first_failure_in_full_then_one_summary_per_interval(failures, clock, caplog):
    caplog.set_level(logging.INFO, LOGGER.name)
    for _ in range(80):  # 10 s of failures, 8 a second (steps exact in binary)
        fail(failures)
        clock.now += 0.125
    logged = records(caplog)
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert logged[0].getMessage() == "batch of 2 frame(s) from ['a'] failed"
    for _ in range(161):  # up to and including t = 30 s
        fail(failures, "shape mismatch again")
        clock.now += 0.125
    logged = records(caplog)
    assert len(logged) == 2 and logged[1].exc_info is None
    assert logged[1].getMessage() == (
        "240 more failure(s) in the last 30 s, 241 in a row; the last: batch of 2 frame(s) from ['a'] failed: "
        "RuntimeError: shape mismatch again"
    )


def test_the_end_of_a_logged_run_is_logged_once(failures, clock, caplog):
    caplog.set_level(logging.INFO, LOGGER.name)
    fail(failures)
    fail(failures)
    failures.succeeded("inference works")
    failures.succeeded("inference works")
    assert [r.getMessage() for r in records(caplog)][1:] == ["inference works again after 2 failure(s) in a row"]


def test_a_flapping_failure_prints_its_traceback_once_per_interval(failures, clock, caplog):
    caplog.set_level(logging.INFO, LOGGER.name)
    for _ in range(50):  # fail, succeed, fail, ... for 5 s
        fail(failures)
        clock.now += 0.05
        failures.succeeded("inference works")
        clock.now += 0.05
    tracebacks = [r for r in records(caplog) if r.exc_info]
    assert len(tracebacks) == 1 and len(records(caplog)) == 2  # the traceback, and that first run's end
    clock.now += 30
    fail(failures)
    latest = records(caplog)[-1]
    assert latest.exc_info is not None and latest.getMessage().endswith("(49 earlier failure(s) not logged)")


def test_exception_summary_is_one_line():
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        assert exception_summary() == "ValueError: bad\nthing"
    assert exception_summary() == ""
