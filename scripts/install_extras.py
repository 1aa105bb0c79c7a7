"""Install this checkout of jetsentry (editable) with extras, for the interpreter that runs this script.

    .venv/bin/python scripts/install_extras.py [EXTRA ...]      e.g.  ... install_extras.py cpu eval

It does what `pip install -e '.[EXTRA,...]'` does, except that opencv-python is never
installed: TrackEval (extra `eval`) and Ultralytics (extra `reference`) declare
opencv-python, which installs the same `cv2` package as jetsentry's opencv-python-headless,
so the two overwrite each other's files and uninstalling either breaks the other.  So the
extras' own packages are installed without their dependencies, then those dependencies
without opencv-python; opencv-python-headless provides `cv2` for all of them.
scripts/setup.sh runs this; the error for a missing extra names it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Distributions that install a `cv2` beside jetsentry's opencv-python-headless.
OTHER_OPENCV = frozenset({"opencv-python", "opencv-contrib-python", "opencv-contrib-python-headless"})


# pip's closing complaint that trackeval and ultralytics lack the opencv-python left out on purpose.
_CONFLICTS_HEADER = "ERROR: pip's dependency resolver does not currently take into account"
_OPENCV_CONFLICT = re.compile(r"^\S+ \S+ requires (%s)\b.*, which is not installed\.$" % "|".join(map(re.escape, OTHER_OPENCV)))


def pip(*args: str) -> None:
    """pip install, quietly; its stderr shown except for the conflicts that are opencv-python's absence."""
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", *args],
                          stderr=subprocess.PIPE, text=True)
    lines = [line for line in done.stderr.splitlines() if not _OPENCV_CONFLICT.match(line)]
    header = next((i for i, line in enumerate(lines) if line.startswith(_CONFLICTS_HEADER)), None)
    if header is not None and header == len(lines) - 1:  # no conflict left under it
        del lines[header]
    if lines:
        print("\n".join(lines), file=sys.stderr)
    if done.returncode:
        raise SystemExit(f"install_extras: pip install {' '.join(args)} failed (exit {done.returncode})")


def main(extras: list[str]) -> int:
    pip("-e", str(ROOT))
    try:
        import packaging  # noqa: F401
    except ImportError:
        pip("packaging>=22")
    importlib.invalidate_caches()
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    jetsentry = importlib.metadata.distribution("jetsentry")
    known = set(jetsentry.metadata.get_all("Provides-Extra") or [])
    unknown = sorted(set(extras) - known)
    if unknown:
        print(f"install_extras: unknown extra(s) {', '.join(unknown)}; jetsentry has {', '.join(sorted(known))}",
              file=sys.stderr)
        return 2
    wanted = [Requirement(r) for r in jetsentry.requires or []]
    wanted = [r for r in wanted if r.marker is not None and any(r.marker.evaluate({"extra": e}) for e in extras)]
    if not wanted:
        return 0
    pip("--no-deps", *(_without_marker(r) for r in wanted))

    importlib.invalidate_caches()
    dependencies: dict[str, list[str]] = {}
    left_out: dict[str, list[str]] = {}
    for top in wanted:
        for line in importlib.metadata.distribution(top.name).requires or []:
            req = Requirement(line)
            if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in top.extras or {""}):
                continue
            if canonicalize_name(req.name) in OTHER_OPENCV:
                left_out.setdefault(req.name, []).append(top.name)
            else:
                dependencies.setdefault(_without_marker(req), []).append(top.name)
    if dependencies:
        pip(*dependencies)

    importlib.invalidate_caches()
    installed = sorted(d.metadata["Name"] for d in importlib.metadata.distributions()
                       if canonicalize_name(d.metadata["Name"] or "") in OTHER_OPENCV)
    if installed:
        headless = importlib.metadata.version("opencv-python-headless")
        print(f"install_extras: {', '.join(installed)} is installed beside opencv-python-headless and overwrites "
              f"its cv2; remove it, then restore the files it shared: {sys.executable} -m pip uninstall -y "
              f"{' '.join(installed)} && {sys.executable} -m pip install --force-reinstall --no-deps "
              f"opencv-python-headless=={headless}", file=sys.stderr)
        return 1
    for name, needed_by in left_out.items():
        print(f"install_extras: left out {name} (declared by {', '.join(sorted(set(needed_by)))}): "
              "opencv-python-headless provides cv2")
    return 0


def _without_marker(req) -> str:
    """The requirement as pip takes it on a command line: name, extras, version; markers already applied."""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}{req.specifier}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
