"""Engine calls with a deadline (infer/deadline.py): results and errors pass through, a hung call
raises EngineTimeoutError and the engine is never called again."""

from __future__ import annotations

import threading
import time

import pytest

from jetsentry.health.monitors.engine_errors import classify_engine_error
from jetsentry.infer.deadline import EngineDeadline
from jetsentry.infer.errors import EngineTimeoutError, GpuError


def test_results_and_errors_of_a_call_come_back_from_the_worker_thread():
    deadline = EngineDeadline(5.0, name="fake")
    threads = []
    assert deadline.call(lambda a, b=0: threads.append(threading.current_thread()) or a + b, 2, b=3) == 5
    assert threads[0] is not threading.current_thread() and threads[0].daemon
    with pytest.raises(ZeroDivisionError):
        deadline.call(lambda: 1 / 0)
    assert deadline.call(lambda: "still serving") == "still serving" and deadline.hung is None
    deadline.close()


def test_a_call_past_its_deadline_raises_and_the_engine_is_never_called_again():
    deadline = EngineDeadline(0.2, name="onnxruntime-cuda")
    release, calls, late = threading.Event(), [], []

    def stuck():
        calls.append(1)
        release.wait(30)
        late.append("returned")
        return "late result"

    with pytest.raises(EngineTimeoutError) as raised:
        deadline.call(stuck)
    assert "onnxruntime-cuda engine call gave no result within 0.2 s (governor.engine_timeout_s)" in str(raised.value)
    assert isinstance(raised.value, GpuError) and isinstance(raised.value, TimeoutError)
    assert classify_engine_error(raised.value) == "timeout"
    with pytest.raises(EngineTimeoutError):
        deadline.call(calls.append, 2)  # at once, on the caller's thread: nothing reaches the engine
    release.set()
    deadline.close()
    for _ in range(500):
        if late:
            break
        time.sleep(0.01)
    assert calls == [1] and late == ["returned"]  # the stuck call ended later; its result went nowhere


def test_a_deadline_must_be_positive():
    with pytest.raises(ValueError, match="must be > 0 s"):
        EngineDeadline(0)
