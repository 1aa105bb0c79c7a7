"""How many malloc arenas the daemon's threads share (glibc).

glibc gives a thread that allocates while the others hold their arenas an arena of its
own, up to 8 per core, and keeps what is freed in an arena for later use there.  The
daemon's threads come and go: every RTSP reconnect builds a new GStreamer pipeline whose
streaming threads allocate in whichever arena they land in, so the memory freed by one
connection stays spread over many arenas, each growing by its own fragmentation; the
daemon's resident memory rose a few MiB with every reconnect (bench/bench_soak.py).  With
two arenas, what one connection frees is reused by the next.
"""

from __future__ import annotations

import ctypes
import os

DAEMON_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt parameter, malloc.h


def cap_malloc_arenas(count: int = DAEMON_ARENAS) -> bool:
    """Let at most `count` malloc arenas exist from now on; True when glibc took the setting.

    Call it before the process starts its threads: a thread keeps the arena it has.  A
    MALLOC_ARENA_MAX in the environment is the operator's choice and is left alone, as is
    a C library without mallopt (musl).
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return mallopt(_M_ARENA_MAX, count) == 1
