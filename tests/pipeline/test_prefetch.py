"""PrefetchedBatches: order, one batch ahead at most, errors, early close, idle priority."""

from __future__ import annotations

import os
import threading
import time

import pytest

from jetsentry.batch.prefetch import PrefetchedBatches


def test_every_batch_prepared_once_in_order():
    with PrefetchedBatches(range(20), lambda b: ("prepared", b)) as prepared:
        assert list(prepared) == [("prepared", b) for b in range(20)]


def test_never_more_than_one_batch_prepared_ahead_of_the_consumer():
    """The Detector has two input buffers: batch k+1 may be prepared while k runs, never k+2."""
    prepared_upto = []
    lock = threading.Lock()

    def prepare(batch):
        with lock:
            prepared_upto.append(batch)
        return batch

    with PrefetchedBatches(range(10), prepare) as prepared:
        for batch in prepared:
            time.sleep(0.02)  # the consumer is slow: the thread must wait, not run ahead
            with lock:
                assert max(prepared_upto) <= batch + 1


def test_waiting_counts_a_prepared_batch_not_yet_taken():
    from tests.support.broker import wait_until

    with PrefetchedBatches(range(3), lambda b: b) as prepared:
        assert prepared.waiting == 0  # not started
        batches = iter(prepared)
        assert next(batches) == 0
        wait_until(lambda: prepared.waiting == 1, 5, "batch 1 prepared and waiting")
        assert next(batches) == 1
        wait_until(lambda: prepared.waiting == 1, 5, "batch 2 prepared and waiting")
        assert next(batches) == 2
        assert list(batches) == []
        assert prepared.waiting == 0  # the end marker is not a batch


def test_a_failing_prepare_raises_in_the_consumer_after_the_good_batches():
    def prepare(batch):
        if batch == 3:
            raise ValueError("bad frame 3")
        return batch

    got = []
    with pytest.raises(ValueError, match="bad frame 3"):
        with PrefetchedBatches(range(10), prepare) as prepared:
            for batch in prepared:
                got.append(batch)
    assert got == [0, 1, 2]


def test_closing_early_stops_the_thread_and_closes_a_generator_source():
    closed = threading.Event()

    def source():
        try:
            for i in range(1000):
                yield i
        finally:
            closed.set()

    prefetch = PrefetchedBatches(source(), lambda b: b)
    with prefetch as prepared:
        for batch in prepared:
            if batch == 2:
                break
    assert closed.wait(5)
    assert not prefetch._thread.is_alive()


def test_idle_priority_thread_runs_at_sched_idle():
    policies = []

    def prepare(batch):
        policies.append(os.sched_getscheduler(0))
        return batch

    with PrefetchedBatches(range(2), prepare, idle_priority=True) as prepared:
        assert list(prepared) == [0, 1]
    assert policies == [os.SCHED_IDLE, os.SCHED_IDLE]
    assert os.sched_getscheduler(0) != os.SCHED_IDLE  # the consumer's thread is untouched
