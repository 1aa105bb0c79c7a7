"""Drawing detections on a picture and encoding it as a JPEG (off the frame path)."""

from __future__ import annotations

import cv2
import numpy as np

from jetsentry.detections import Detections

# BGR colours, one per track id (or class id for untracked detections), cycling.
PALETTE = np.array([(56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207),
                    (10, 249, 72), (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0),
                    (168, 153, 44), (255, 194, 0), (147, 69, 52), (255, 115, 100), (236, 24, 0),
                    (255, 56, 132), (133, 0, 82), (255, 56, 203), (200, 149, 255), (199, 55, 255)], np.uint8)
# Each re-encoding for the size bound: these qualities, then smaller pictures at the last one.
FALLBACK_QUALITIES = (70, 55, 40)
SHRINK = 0.75
MIN_SIDE = 64


def draw_detections(image: np.ndarray, detections: Detections, labels: np.ndarray) -> np.ndarray:
    """A copy of the BGR `image` with each box, its label, score and track id drawn."""
    canvas = image.copy()
    n = len(detections)
    if n == 0:
        return canvas
    height, width = canvas.shape[:2]
    thickness = max(1, round(min(width, height) / 360))
    scale = max(0.4, min(width, height) / 1200)
    boxes = np.rint(detections.boxes).astype(np.int64)
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width - 1)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height - 1)
    tracked = detections.track_ids >= 0
    colour_keys = np.where(tracked, detections.track_ids, detections.class_ids).astype(np.int64)
    colours = PALETTE[colour_keys % len(PALETTE)].tolist()
    names = np.asarray(labels, dtype=object)[detections.class_ids.astype(np.int64)].tolist()
    scores = detections.scores.tolist()
    track_ids = detections.track_ids.tolist()
    for (x1, y1, x2, y2), colour, name, score, track_id in zip(boxes.tolist(), colours, names, scores, track_ids):
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thickness)
        text = f"{name} #{track_id} {score:.2f}" if track_id >= 0 else f"{name} {score:.2f}"
        (tw, th), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = y1 - th - baseline - 2 if y1 - th - baseline - 2 >= 0 else y1
        cv2.rectangle(canvas, (x1, top), (x1 + tw + 2, top + th + baseline + 2), colour, cv2.FILLED)
        cv2.putText(canvas, text, (x1 + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
    return canvas


def encode_jpeg(image: np.ndarray, quality: int, max_bytes: int | None = None) -> tuple[bytes, int, int]:
    """(JPEG, width, height).  With max_bytes: encoded again at lower qualities, then at smaller
    sizes, until it fits; ValueError when even a MIN_SIDE picture does not."""
    qualities = (quality, *(q for q in FALLBACK_QUALITIES if q < quality))
    picture = image
    while True:
        for q in qualities:
            ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, int(q)])
            if not ok:
                raise ValueError("OpenCV could not encode the picture as JPEG")
            if max_bytes is None or encoded.size <= max_bytes:
                return encoded.tobytes(), picture.shape[1], picture.shape[0]
        qualities = qualities[-1:]
        height, width = picture.shape[:2]
        if min(height, width) * SHRINK < MIN_SIDE:
            raise ValueError(f"a snapshot does not fit in {max_bytes} bytes even at {width}x{height}")
        picture = cv2.resize(picture, (int(width * SHRINK), int(height * SHRINK)), interpolation=cv2.INTER_AREA)
