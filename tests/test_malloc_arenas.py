"""`jetsentry run` caps glibc's malloc arenas before it starts any thread.

Each check runs in a fresh interpreter (arenas, once made, stay for the life of a
process): it calls the real command line, then starts threads that allocate at the same
time, and counts the arenas glibc reports (malloc_info's <heap> entries).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's")

# Eight threads each hold memory while all of them are alive, so none can reuse another's
# arena; glibc's own limit here would be 8 per core.
COUNT_ARENAS = textwrap.dedent(
    """
    import ctypes, re, sys, tempfile, threading
    from jetsentry.cli import main

    rc = main(sys.argv[1:])
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
    libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
    libc.fclose.argtypes = (ctypes.c_void_p,)
    barrier = threading.Barrier(8)

    def allocate():
        libc.malloc(64 * 1024)
        barrier.wait()

    threads = [threading.Thread(target=allocate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with tempfile.NamedTemporaryFile() as report:
        stream = libc.fopen(report.name.encode(), b"w")
        libc.malloc_info(0, stream)
        libc.fclose(stream)
        arenas = len(re.findall(r"<heap nr=", open(report.name).read()))
    print(rc, arenas)
    """
)


def run_and_count_arenas(*argv: str, env: dict[str, str] | None = None) -> tuple[int, int]:
    environment = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"}
    environment["PYTHONPATH"] = os.pathsep.join([str(REPO / "daemon"), environment.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", COUNT_ARENAS, *argv], env={**environment, **(env or {})},
                         capture_output=True, text=True, timeout=120, check=True)
    rc, arenas = out.stdout.split()[-2:]
    return int(rc), int(arenas)


def test_run_caps_malloc_arenas_at_two(tmp_path):
    rc, arenas = run_and_count_arenas("run", "--config", str(tmp_path / "missing.yaml"))
    assert rc == 2  # the missing config is reported after the cap was set
    assert arenas == 2


def test_other_commands_keep_glibcs_arenas(tmp_path):
    rc, arenas = run_and_count_arenas("check-config", str(tmp_path / "missing.yaml"))
    assert rc == 2
    assert arenas > 2


def test_malloc_arena_max_from_the_environment_wins(tmp_path):
    rc, arenas = run_and_count_arenas("run", "--config", str(tmp_path / "missing.yaml"), env={"MALLOC_ARENA_MAX": "4"})
    assert rc == 2
    assert arenas == 4
