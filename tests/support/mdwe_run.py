"""Run a command under the kernel's memory-deny-write-execute (prctl PR_SET_MDWE, Linux 6.3+).

``python -m tests.support.mdwe_run -m jetsentry ARGS...`` turns MDWE on for this process (it
is inherited and cannot be turned off), checks that a writable and executable mapping is
now refused, then runs the module as ``python -m`` would.  The kernel refuses what systemd's
MemoryDenyWriteExecute= refuses (mappings both writable and executable, and making a written
mapping executable), so the CPU path passing here passes under the unit.
Exit 3 when the kernel lacks PR_SET_MDWE.
"""

from __future__ import annotations

import ctypes
import mmap
import runpy
import sys

PR_SET_MDWE = 65
PR_GET_MDWE = 66
PR_MDWE_REFUSE_EXEC_GAIN = 1


def main() -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        print(f"PR_SET_MDWE failed: errno {ctypes.get_errno()}", file=sys.stderr)
        return 3
    assert libc.prctl(PR_GET_MDWE, 0, 0, 0, 0) == PR_MDWE_REFUSE_EXEC_GAIN
    try:
        mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except PermissionError:
        pass
    else:
        print("a writable and executable mapping was allowed: MDWE is not in force", file=sys.stderr)
        return 3
    if sys.argv[1:2] != ["-m"]:
        print("usage: python -m tests.support.mdwe_run -m MODULE ARGS...", file=sys.stderr)
        return 2
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
