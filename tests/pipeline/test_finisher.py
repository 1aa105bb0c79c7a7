"""BackgroundFinisher: batches finished in order on one thread, a bounded backlog, errors handed back."""

from __future__ import annotations

import threading
import time

import pytest

from jetsentry.batch.finisher import BackgroundFinisher


def test_items_are_finished_in_order_on_one_thread():
    seen, threads = [], set()

    def finish(item):
        seen.append(item)
        threads.add(threading.current_thread().name)

    with BackgroundFinisher(finish, name="finish-test") as finisher:
        for item in range(50):
            finisher.submit(item)
    assert seen == list(range(50)) and threads == {"finish-test"}


def test_a_slow_finisher_holds_the_submitter_back():
    release = threading.Event()
    started = threading.Event()

    def finish(item):
        started.set()
        release.wait(5)

    finisher = BackgroundFinisher(finish, depth=1)
    finisher.submit(0)  # taken by the thread, which then waits
    started.wait(5)
    finisher.submit(1)  # fills the backlog
    blocked = threading.Thread(target=finisher.submit, args=(2,))
    blocked.start()
    time.sleep(0.3)
    assert blocked.is_alive()  # no room: the submitter waits
    release.set()
    blocked.join(5)
    finisher.close()
    assert not blocked.is_alive()


def test_an_error_is_raised_in_the_submitting_thread():
    def finish(item):
        if item == 1:
            raise RuntimeError("tracker broke")

    finisher = BackgroundFinisher(finish)
    finisher.submit(0)
    finisher.submit(1)
    with pytest.raises(RuntimeError, match="tracker broke"):
        for item in range(2, 100):
            finisher.submit(item)
            time.sleep(0.01)
    finisher.close()
