"""Scene folders written by hand, for the loader's and the command line's error paths."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from jetsentry.synth import SYNTH_CLASSES

GOOD_GT = "1,1,10.00,20.00,30.00,40.00,1,0,1.0000\n1,2,50.00,20.00,30.00,40.00,0,3,0.2000\n2,1,12.00,20.00,30.00,40.00,1,0,1.0000\n"


def write_scene(path: Path, *, gt: str | None = GOOD_GT, video: bytes | None = b"not really a video",
                classes: Sequence[str] | None = SYNTH_CLASSES, frames: int = 2, info: dict | None = None) -> Path:
    """A scene folder; pass None to leave a file out."""
    path.mkdir(parents=True, exist_ok=True)
    if gt is not None:
        (path / "gt").mkdir(exist_ok=True)
        (path / "gt" / "gt.txt").write_text(gt, encoding="ascii")
    if video is not None:
        (path / "video.mp4").write_bytes(video)
    if info is None:
        info = {"name": path.name, "fps": 15, "frames": frames, "width": 640, "height": 360}
        if classes is not None:
            info["classes"] = list(classes)
    (path / "scene.json").write_text(json.dumps(info), encoding="utf-8")
    return path
