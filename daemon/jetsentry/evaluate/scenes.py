"""Scene folders for evaluation: find them, check them, load their ground truth.

A scene folder (as `jetsentry synth` writes it) holds video.mp4, gt/gt.txt (MOTChallenge
lines `frame,id,left,top,width,height,consider,class,visibility`) and scene.json (at
least `classes`, and `frames`/`fps` when known).  Every problem is raised as SceneError
with a message that names the file (and line) at fault.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from jetsentry.synth.groundtruth import GroundTruth
from jetsentry.synth.stats import scene_statistics

SCENE_PREFIX = "scene_"
VIDEO_NAME = "video.mp4"
GT_PATH = Path("gt") / "gt.txt"
INFO_NAME = "scene.json"
GT_COLUMNS = ("frame", "id", "left", "top", "width", "height", "consider", "class", "visibility")


class SceneError(ValueError):
    """A scene folder that cannot be evaluated; the message says which file and why."""


@dataclass(frozen=True)
class Scene:
    name: str
    path: Path
    video: Path
    classes: tuple[str, ...]
    gt: GroundTruth
    frames: int | None  # declared length (scene.json); None when the folder does not say
    fps: float | None
    statistics: dict = field(repr=False)  # jetsentry.synth.stats.scene_statistics of gt


def is_scene_dir(path: Path) -> bool:
    return (path / INFO_NAME).is_file() or (path / GT_PATH).is_file() or (path / VIDEO_NAME).is_file()


def find_scene_dirs(root: str | Path) -> list[Path]:
    """`root` itself when it is a scene folder, else its scene_* subfolders in name order."""
    root = Path(root)
    if not root.exists():
        raise SceneError(f"scene directory not found: {root}")
    if not root.is_dir():
        raise SceneError(f"not a directory: {root}")
    if is_scene_dir(root):
        return [root]
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(SCENE_PREFIX))
    if not dirs:
        raise SceneError(f"no {SCENE_PREFIX}* folders in {root} (and it is not a scene folder itself)")
    return dirs


def load_scenes(root: str | Path) -> list[Scene]:
    """Every scene under `root`, checked; all scenes must name the same classes."""
    scenes = [load_scene(d) for d in find_scene_dirs(root)]
    first = scenes[0]
    for scene in scenes[1:]:
        if scene.classes != first.classes:
            raise SceneError(f"{scene.path / INFO_NAME}: classes {list(scene.classes)} differ from "
                             f"{list(first.classes)} of {first.path / INFO_NAME}")
    return scenes


def load_scene(path: str | Path) -> Scene:
    path = Path(path)
    video = path / VIDEO_NAME
    gt_file = path / GT_PATH
    info_file = path / INFO_NAME
    for required, what in ((video, "video"), (gt_file, "ground truth"), (info_file, "scene description")):
        if not required.is_file():
            raise SceneError(f"scene {path}: {what} {required.name} not found (expected {required})")
    info = _read_info(info_file)
    classes = _classes(info, info_file)
    frames = _positive(info, "frames", info_file, int)
    fps = _positive(info, "fps", info_file, float)
    gt = parse_gt(gt_file, num_classes=len(classes), frames=frames)
    return Scene(name=str(info.get("name") or path.name), path=path, video=video, classes=classes, gt=gt,
                 frames=frames, fps=fps, statistics=_statistics(gt, frames))


def parse_gt(path: Path, *, num_classes: int, frames: int | None = None) -> GroundTruth:
    """Read and check a gt.txt; a bad line raises SceneError naming the file and line number."""
    try:
        text = path.read_text(encoding="ascii")
    except UnicodeDecodeError as exc:
        raise SceneError(f"{path}: not an ASCII text file ({exc.reason} at byte {exc.start})") from None
    numbered = [(i + 1, line) for i, line in enumerate(text.splitlines()) if line.strip()]
    line_numbers = np.array([n for n, _ in numbered], np.int64)
    try:
        rows = np.array([line.split(",") for _, line in numbered], dtype=np.float64).reshape(-1, 9)
    except ValueError:
        raise SceneError(_first_unparsable(path, numbered)) from None
    problems = _row_problems(rows, num_classes, frames)
    bad_rows = [(int(np.argmax(mask)), why) for mask, why in problems if mask.any()]
    if bad_rows:
        row, why = min(bad_rows)
        raise SceneError(f"{path}:{line_numbers[row]}: {why}: {numbered[row][1].strip()!r}")
    duplicate = _first_duplicate(rows)
    if duplicate is not None:
        first, second = line_numbers[duplicate[0]], line_numbers[duplicate[1]]
        raise SceneError(f"{path}:{second}: frame {int(rows[duplicate[1], 0])} id {int(rows[duplicate[1], 1])} "
                         f"already appears on line {first}")
    return GroundTruth.from_rows(rows)


def _first_unparsable(path: Path, numbered: Sequence[tuple[int, str]]) -> str:
    for number, line in numbered:
        fields = line.split(",")
        if len(fields) != len(GT_COLUMNS):
            return (f"{path}:{number}: expected {len(GT_COLUMNS)} comma-separated values "
                    f"({','.join(GT_COLUMNS)}), found {len(fields)}: {line.strip()!r}")
        for name, value in zip(GT_COLUMNS, fields):
            try:
                float(value)
            except ValueError:
                return f"{path}:{number}: {name} is not a number: {value.strip()!r}"
    return f"{path}: cannot be read as numbers"  # pragma: no cover - numpy and float() agree


def _row_problems(rows: np.ndarray, num_classes: int, frames: int | None) -> list[tuple[np.ndarray, str]]:
    """(mask of offending rows, reason) for each rule a gt row must follow."""
    frame, track_id, w, h = rows[:, 0], rows[:, 1], rows[:, 4], rows[:, 5]
    consider, class_id, visibility = rows[:, 6], rows[:, 7], rows[:, 8]
    not_int = lambda col: col != np.round(col)  # noqa: E731 - a one-line rule
    problems = [
        (~np.isfinite(rows).all(axis=1), "values must be finite"),
        ((frame < 1) | not_int(frame), "frame must be an integer >= 1"),
        ((track_id < 1) | not_int(track_id), "id must be an integer >= 1"),
        ((w < 0) | (h < 0), "width and height must be >= 0"),
        ((consider != 0) & (consider != 1), "consider must be 0 or 1"),
        ((class_id < 0) | (class_id >= num_classes) | not_int(class_id),
         f"class must be an integer in 0..{num_classes - 1} (scene.json lists {num_classes} classes)"),
        ((visibility < 0) | (visibility > 1), "visibility must be within 0..1"),
    ]
    if frames is not None:
        problems.append((frame > frames, f"frame is beyond the scene's {frames} frames"))
    return problems


def _first_duplicate(rows: np.ndarray) -> tuple[int, int] | None:
    """Row indices (earlier, later) of the first repeated (frame, id) pair, or None."""
    if len(rows) < 2:
        return None
    order = np.lexsort((np.arange(len(rows)), rows[:, 1], rows[:, 0]))
    same = (rows[order[1:], 0] == rows[order[:-1], 0]) & (rows[order[1:], 1] == rows[order[:-1], 1])
    if not same.any():
        return None
    pairs = np.stack((order[:-1][same], order[1:][same]), axis=1)
    earlier, later = pairs[np.argmin(pairs[:, 1])]
    return int(earlier), int(later)


def _read_info(path: Path) -> dict:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SceneError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(info, dict):
        raise SceneError(f"{path}: expected a JSON object, found {type(info).__name__}")
    return info


def _classes(info: dict, path: Path) -> tuple[str, ...]:
    classes = info.get("classes")
    if not (isinstance(classes, list) and classes and all(isinstance(c, str) and c for c in classes)):
        raise SceneError(f"{path}: 'classes' must be a non-empty list of class names, found {classes!r}")
    return tuple(classes)


def _positive(info: dict, key: str, path: Path, kind: type):
    value = info.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or kind(value) != value:
        raise SceneError(f"{path}: {key!r} must be a positive {kind.__name__}, found {value!r}")
    return kind(value)


def _statistics(gt: GroundTruth, frames: int | None) -> dict:
    """Like synth's gt_statistics, but over the declared length (trailing empty frames count)."""
    n_frames = max(frames or 0, int(gt.frame.max()) if len(gt) else 0)
    return scene_statistics(gt.frame, gt.track_id, gt.boxes, gt.visibility, n_frames=n_frames, consider=gt.consider)
