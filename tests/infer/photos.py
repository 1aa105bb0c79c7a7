"""Real photographs for comparison tests, from packages installed for the tests.

Ultralytics ships bus.jpg and zidane.jpg; scikit-image ships a few more photos
(people, a cat, a cup, motorcycles).  Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

_ULTRALYTICS_PHOTOS = ("bus.jpg", "zidane.jpg")
# scikit-image photos in which COCO objects are visible (the others are textures or diagrams).
_SKIMAGE_PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "camera.png",
)


def _package_dir(name: str) -> Path | None:
    # find_spec avoids importing the package (ultralytics imports torch: seconds).
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def photo_paths() -> list[Path]:
    paths = []
    ultralytics_dir = _package_dir("ultralytics")
    if ultralytics_dir is not None:
        paths += [ultralytics_dir / "assets" / name for name in _ULTRALYTICS_PHOTOS]
    skimage_dir = _package_dir("skimage")
    if skimage_dir is not None:
        paths += [skimage_dir / "data" / name for name in _SKIMAGE_PHOTOS]
    return [path for path in paths if path.is_file()]


def load_photos() -> list[np.ndarray]:
    """BGR uint8 photos (grey ones expanded to 3 channels); empty when neither package is installed."""
    photos = []
    for path in photo_paths():
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"cannot read test photo {path}")
        photos.append(image)
    return photos


def fit_to_frame(photo: np.ndarray, width: int, height: int) -> np.ndarray:
    """The photo scaled to fit width x height, centred on black (as a camera frame would be)."""
    scale = min(width / photo.shape[1], height / photo.shape[0])
    new_w, new_h = max(1, round(photo.shape[1] * scale)), max(1, round(photo.shape[0] * scale))
    frame = np.zeros((height, width, 3), np.uint8)
    top, left = (height - new_h) // 2, (width - new_w) // 2
    frame[top : top + new_h, left : left + new_w] = cv2.resize(photo, (new_w, new_h), interpolation=cv2.INTER_AREA)
    return frame


def mosaic(photos: list[np.ndarray], width: int, height: int, columns: int = 2, rows: int = 2) -> np.ndarray:
    """Up to columns x rows photos tiled into one frame: smaller objects, several scenes at once."""
    cell_w, cell_h = width // columns, height // rows
    frame = np.zeros((height, width, 3), np.uint8)
    for index, photo in enumerate(photos[: columns * rows]):
        row, column = divmod(index, columns)
        frame[row * cell_h : (row + 1) * cell_h, column * cell_w : (column + 1) * cell_w] = fit_to_frame(
            photo, cell_w, cell_h
        )
    return frame
