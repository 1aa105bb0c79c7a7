"""YOLO-format image dataset export: images/{train,val}/*.jpg, labels/{train,val}/*.txt, data.yaml."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

JPEG_QUALITY = 88  # some codec-like loss, as the detector will see decoded video
MIN_LABEL_VISIBILITY = 0.25
MIN_LABEL_SIDE_PX = 4.0
SPLITS = ("train", "val")


def label_lines(boxes_xywh: np.ndarray, class_id: np.ndarray, visibility: np.ndarray,
                width: int, height: int) -> str:
    """YOLO label text (class cx cy w h, normalised) for the objects worth labelling."""
    keep = ((visibility >= MIN_LABEL_VISIBILITY) & (boxes_xywh[:, 2] >= MIN_LABEL_SIDE_PX)
            & (boxes_xywh[:, 3] >= MIN_LABEL_SIDE_PX))
    b = boxes_xywh[keep]
    cx = (b[:, 0] + b[:, 2] / 2) / width
    cy = (b[:, 1] + b[:, 3] / 2) / height
    norm = np.stack([cx, cy, b[:, 2] / width, b[:, 3] / height], axis=1).clip(0.0, 1.0)
    return "".join(f"{c} {v[0]:.6f} {v[1]:.6f} {v[2]:.6f} {v[3]:.6f}\n"
                   for c, v in zip(class_id[keep].tolist(), norm.tolist()))


class DatasetWriter:
    """Writes frames of one scene into one split of a YOLO dataset directory."""

    def __init__(self, root: str | Path, split: str, prefix: str) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.root = Path(root)
        self.images = self.root / "images" / split
        self.labels = self.root / "labels" / split
        self.images.mkdir(parents=True, exist_ok=True)
        self.labels.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix
        self.count = 0

    def write(self, frame_number: int, image: np.ndarray, boxes_xywh: np.ndarray, class_id: np.ndarray,
              visibility: np.ndarray) -> None:
        name = f"{self.prefix}_{frame_number:06d}"
        ok, jpg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError(f"JPEG encoding failed for {name}")
        (self.images / f"{name}.jpg").write_bytes(jpg.tobytes())
        h, w = image.shape[:2]
        (self.labels / f"{name}.txt").write_text(label_lines(boxes_xywh, class_id, visibility, w, h),
                                                 encoding="ascii")
        self.count += 1


def write_data_yaml(root: str | Path, names: tuple[str, ...] | list[str], has_val: bool = True) -> Path:
    """data.yaml as Ultralytics reads it (absolute path, split folders, class names).

    Without a val split (a one-scene run) val points at train, so that training still starts.
    """
    root = Path(root).resolve()
    (root / "images" / "train").mkdir(parents=True, exist_ok=True)
    (root / "labels" / "train").mkdir(parents=True, exist_ok=True)
    val = "images/val" if has_val else "images/train"
    lines = [f"path: {root}", "train: images/train", f"val: {val}", "names:"]
    lines += [f"  {i}: {n}" for i, n in enumerate(names)]
    path = root / "data.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
