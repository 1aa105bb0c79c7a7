"""Run a module as if some top-level packages were not installed.

    python tests/support/without_modules.py NAME[,NAME...] MODULE [ARG...]

installs a meta-path finder that answers every import of NAME or NAME.* with the
ModuleNotFoundError Python raises for a package that is not installed, then runs MODULE
as ``python -m MODULE ARG...`` would.  The tests use it to run the real commands with an
optional dependency missing, without uninstalling anything.
"""

from __future__ import annotations

import importlib.abc
import os
import runpy
import sys


class AbsentPackages(importlib.abc.MetaPathFinder):
    """Makes the named top-level packages (and everything under them) unimportable."""

    def __init__(self, names: set[str]) -> None:
        self.names = frozenset(names)

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        return None


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    names = {n for n in argv[0].split(",") if n}
    already = sorted(m for m in sys.modules if m.partition(".")[0] in names)
    if already:
        raise SystemExit(f"already imported before the finder was installed: {already}")
    sys.meta_path.insert(0, AbsentPackages(names))
    sys.path[0] = os.getcwd()  # where `python -m` looks first, instead of this script's folder
    sys.argv = [argv[1], *argv[2:]]
    runpy.run_module(argv[1], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
