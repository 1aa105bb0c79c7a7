"""Runs `jetsentry` in this process and records where its memory goes, for leak hunting.

    python bench/memprobe.py OUT.jsonl [--interval 60] [--baseline 120] [--tracemalloc N] -- run --config FILE

From `--baseline` s on (after warm-up), every `--interval` s one JSON line: resident memory (/proc/self/status), glibc's heap
(mallinfo2: bytes in use and free in the arenas, bytes in mmapped chunks), live threads
and Python thread objects, the number of live objects per type (gc.get_objects, the 25
types that grew most since the first line) and, with --tracemalloc N, the Python heap
with the 15 source lines whose allocations grew most (N frames per traceback).  RSS minus
the Python heap is native memory (GStreamer, ONNX Runtime, glibc's arenas).
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import gc
import json
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _mallinfo() -> dict[str, int]:
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _Mallinfo2
    info = libc.mallinfo2()
    return {"arena_kib": info.arena // 1024, "in_use_kib": info.uordblks // 1024,
            "free_kib": info.fordblks // 1024, "mmapped_kib": info.hblkhd // 1024, "mmapped_chunks": info.hblks}


def _status_kib() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile", "Threads"):
            fields[key] = int(value.split()[0])
    return fields


def _type_counts() -> collections.Counter:
    return collections.Counter(type(obj).__qualname__ for obj in gc.get_objects())


def _sample(started: float, first_types: collections.Counter, first_snapshot) -> dict:
    types = _type_counts()
    grown = {name: count - first_types.get(name, 0) for name, count in types.items()}
    line = {
        "t": round(time.monotonic() - started, 1),
        **_status_kib(),
        "malloc": _mallinfo(),
        "python_threads": len(threading._active),  # includes dummies for foreign threads that ran Python
        "objects": sum(types.values()),
        "types_grown": dict(sorted(grown.items(), key=lambda kv: -kv[1])[:25]),
    }
    if first_snapshot is not None:
        line["python_heap_kib"] = tracemalloc.get_traced_memory()[0] // 1024
        diff = tracemalloc.take_snapshot().compare_to(first_snapshot, "traceback")
        line["lines_grown"] = [{"kib": stat.size_diff // 1024, "count": stat.count_diff,
                                "where": [f"{f.filename}:{f.lineno}" for f in stat.traceback]}
                               for stat in diff[:15]]
    return line


def _record(out: Path, interval_s: float, baseline_s: float) -> None:
    """Lines every `interval_s`; growth is counted from the baseline taken at `baseline_s` (after warm-up)."""
    started = time.monotonic()
    time.sleep(baseline_s)
    first_types = _type_counts()
    first_snapshot = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
    with out.open("a") as file:
        while True:
            file.write(json.dumps(_sample(started, first_types, first_snapshot)) + "\n")
            file.flush()
            time.sleep(interval_s)


def main() -> int:
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--baseline", type=float, default=120.0, help="seconds before the first line (warm-up)")
    parser.add_argument("--tracemalloc", type=int, default=0, metavar="FRAMES")
    args = parser.parse_args(argv[:split])
    if args.tracemalloc:
        tracemalloc.start(args.tracemalloc)
    threading.Thread(target=_record, args=(args.out, args.interval, args.baseline), name="memprobe", daemon=True).start()
    from jetsentry.cli import main as jetsentry_main

    return jetsentry_main(argv[split + 1 :])


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
