"""A copy of the jetsentry package with one frame-path choice undone, for experiments.

    python bench/patched_copy.py OUT_DIR PATCH [PATCH ...]

Writes OUT_DIR/jetsentry (a copy of daemon/jetsentry with the patches) and prints OUT_DIR;
run a benchmark against it with PYTHONPATH=OUT_DIR (result files record where jetsentry
was imported from).  The checkout itself is never changed.  Patches:

  spin        infer/onnx_engine.py: session.intra_op.allow_spinning=1, ONNX Runtime's
              default, which the engine turns off: idle intra-op workers busy-wait for the
              next parallel section, on cores capture needs.
  serial      analyze.py: no batch prepared ahead; conversion and letterboxing run in the
              inference thread between two engine runs.
  normal-priority  analyze.py: the file is decoded at normal priority instead of SCHED_IDLE.
  daemon-normal-priority  service.py and capture/session.py: the daemon's recordings
              (realtime: false) are decoded, and its next batch prepared, at normal
              priority instead of SCHED_IDLE.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "daemon" / "jetsentry"


def _replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    if text.count(old) != 1:
        raise SystemExit(f"cannot patch {path}: expected exactly one {old!r} (the code changed; update the patch)")
    path.write_text(text.replace(old, new))


def patch_spin(package: Path) -> None:
    _replace_once(package / "infer" / "onnx_engine.py", '"session.intra_op.allow_spinning", "0"',
                  '"session.intra_op.allow_spinning", "1"')


def patch_serial(package: Path) -> None:
    _replace_once(package / "analyze.py", "*, batch: int = 1, overlap: bool = True", "*, batch: int = 1, overlap: bool = False")


def patch_normal_priority(package: Path) -> None:
    _replace_once(package / "analyze.py", "decoder=args.decoder, idle_priority=True)",
                  "decoder=args.decoder, idle_priority=False)")


def patch_daemon_normal_priority(package: Path) -> None:
    _replace_once(package / "service.py", 'self._prepare, idle_priority=True, name="batch-prepare"',
                  'self._prepare, idle_priority=False, name="batch-prepare"')
    _replace_once(package / "capture" / "session.py", "source_name=self._source.masked, idle_priority=self._lossless",
                  "source_name=self._source.masked, idle_priority=False")


PATCHES = {"spin": patch_spin, "serial": patch_serial, "normal-priority": patch_normal_priority,
           "daemon-normal-priority": patch_daemon_normal_priority}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("patches", nargs="+", help=", ".join(PATCHES))
    args = parser.parse_args()
    target = args.out / "jetsentry"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__"))
    for patch in args.patches:
        if patch not in PATCHES:
            raise SystemExit(f"unknown patch {patch!r} ({', '.join(PATCHES)})")
        PATCHES[patch](target)
    print(args.out)


if __name__ == "__main__":
    main()
