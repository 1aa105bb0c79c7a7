"""A copy of the jetsentry package with candidate frame-path fixes applied, for experiments.

    python bench/patched_copy.py OUT_DIR [spin] [videorate=4]

Writes OUT_DIR/jetsentry (a copy of daemon/jetsentry with the patches) and prints OUT_DIR;
run a benchmark against it with PYTHONPATH=OUT_DIR (result files record where jetsentry
was imported from).  The checkout itself is never changed.  Patches:

  spin         infer/onnx_engine.py: session.intra_op.allow_spinning=1, ONNX Runtime's
               default, which the engine turns off (commit 60db82f): idle intra-op workers
               busy-wait for the next parallel section, on cores capture needs.
  videorate=N  capture/pipeline.py: `videorate drop-only=true max-rate=N` ahead of the
               BGR conversion, so frames beyond N per second per camera are dropped
               before they are converted (today fps_cap drops them after conversion).
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


def patch_videorate(package: Path, max_rate: int) -> None:
    anchor = '        "queue max-size-buffers=2 max-size-bytes=0 max-size-time=0 ! videoconvert ! '
    _replace_once(package / "capture" / "pipeline.py", anchor,
                  f'        "videorate drop-only=true max-rate={max_rate} ! "\n' + anchor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("patches", nargs="+", help="spin, videorate=N")
    args = parser.parse_args()
    target = args.out / "jetsentry"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__"))
    for patch in args.patches:
        name, _, value = patch.partition("=")
        if name == "spin":
            patch_spin(target)
        elif name == "videorate" and value.isdigit():
            patch_videorate(target, int(value))
        else:
            raise SystemExit(f"unknown patch {patch!r} (spin, videorate=N)")
    print(args.out)


if __name__ == "__main__":
    main()
