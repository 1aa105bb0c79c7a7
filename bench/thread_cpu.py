"""Where a process spends its CPU: per-thread CPU time from /proc, grouped by thread name.

GStreamer names its streaming threads after the pad they push from ("queue0:src",
"qtdemux0:sink"); ONNX Runtime's worker threads and Python threads keep the process
name.  The main thread (tid == pid) is reported apart: it runs Python and ONNX
Runtime's first intra-op worker; reported as "main".
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_NUMBERS = re.compile(r"\d+")


def _thread_times(pid: int) -> dict[int, tuple[str, float]]:
    """tid -> (name, cpu seconds) for the live threads of `pid`."""
    out = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(task.name)] = (name, (int(fields[11]) + int(fields[12])) / _TICKS)
    return out


class ThreadCpuSampler:
    """Samples a process's threads every `interval_s` between start() and stop().

    Threads that end between samples lose at most one interval of CPU time.
    `groups()` is CPU-seconds per thread group over the sampled period.
    """

    def __init__(self, pid: int, interval_s: float = 0.5) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self._first: dict[int, tuple[str, float]] = {}
        self._last: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="thread-cpu-sampler", daemon=True)

    def start(self) -> ThreadCpuSampler:
        self._first = _thread_times(self.pid)
        self._last = dict(self._first)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        self._last.update(_thread_times(self.pid))

    def stop(self) -> dict[str, float]:
        self.sample()
        self._stop.set()
        self._thread.join()
        return self.groups()

    def groups(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for tid, (name, cpu) in self._last.items():
            start = self._first.get(tid, (name, 0.0))[1]
            key = "main" if tid == self.pid else _NUMBERS.sub("N", name)
            totals[key] = totals.get(key, 0.0) + cpu - start
        return {k: round(v, 2) for k, v in sorted(totals.items(), key=lambda kv: -kv[1]) if v > 0}
