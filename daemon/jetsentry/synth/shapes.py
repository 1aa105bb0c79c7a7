"""Object classes of the synthetic scenes and their sprites (side view, drawn with OpenCV).

A sprite is drawn once per object instance at a supersampled canonical height, as
premultiplied BGR plus alpha, so that later resizing and motion blur stay linear and
anti-aliased.  Animated classes (legs, pedals) get a short cycle of poses.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SYNTH_CLASSES: tuple[str, ...] = ("car", "person", "bicycle", "dog", "truck")

CANONICAL_HEIGHT = 144  # px; sprites are drawn this tall, then shrunk (anti-aliasing)
_AA = cv2.LINE_AA
_SHIFT = 3  # fixed-point bits for sub-pixel drawing
_ONE = 1 << _SHIFT


@dataclass(frozen=True)
class ClassSpec:
    name: str
    aspect: float  # width / height of the sprite canvas
    height_near: tuple[float, float]  # px tall at the bottom of a 360-px frame (min, max)
    speed: tuple[float, float]  # ground speed range, px per frame at the bottom of the frame
    poses: int  # animation cycle length (1 = rigid)
    end_on_width: float  # width factor when moving straight towards / away from the camera


CLASS_SPECS: tuple[ClassSpec, ...] = (
    ClassSpec("car", 2.35, (52.0, 66.0), (2.0, 6.5), 1, 0.6),
    ClassSpec("person", 0.42, (84.0, 104.0), (0.5, 1.8), 6, 0.9),
    ClassSpec("bicycle", 1.65, (58.0, 70.0), (1.5, 4.0), 4, 0.6),
    ClassSpec("dog", 1.45, (34.0, 48.0), (0.8, 3.5), 6, 0.6),
    ClassSpec("truck", 2.25, (92.0, 115.0), (1.5, 4.5), 1, 0.6),
)


@dataclass(frozen=True)
class Sprite:
    """Premultiplied colour (H, W, 3) float32 and alpha (H, W) float32 per pose."""

    colors: tuple[np.ndarray, ...]
    alphas: tuple[np.ndarray, ...]


class _Canvas:
    """Paired colour and coverage drawing, coordinates in canonical pixels (floats)."""

    def __init__(self, width: int, height: int) -> None:
        self.color = np.zeros((height, width, 3), np.uint8)
        self.alpha = np.zeros((height, width), np.uint8)

    @staticmethod
    def _pt(x: float, y: float) -> tuple[int, int]:
        return int(round(x * _ONE)), int(round(y * _ONE))

    def poly(self, points, color) -> None:
        pts = np.round(np.asarray(points, np.float64) * _ONE).astype(np.int32)
        cv2.fillPoly(self.color, [pts], _bgr(color), _AA, _SHIFT)
        cv2.fillPoly(self.alpha, [pts], 255, _AA, _SHIFT)

    def ellipse(self, cx, cy, rx, ry, color, angle=0.0, thickness=-1) -> None:
        center, axes = self._pt(cx, cy), self._pt(rx, ry)
        t = -1 if thickness < 0 else max(1, int(round(thickness)))
        cv2.ellipse(self.color, center, axes, angle, 0, 360, _bgr(color), t, _AA, _SHIFT)
        cv2.ellipse(self.alpha, center, axes, angle, 0, 360, 255, t, _AA, _SHIFT)

    def line(self, x0, y0, x1, y1, color, thickness) -> None:
        t = max(1, int(round(thickness)))
        a, b = self._pt(x0, y0), self._pt(x1, y1)
        cv2.line(self.color, a, b, _bgr(color), t, _AA, _SHIFT)
        cv2.line(self.alpha, a, b, 255, t, _AA, _SHIFT)

    def rect(self, x0, y0, x1, y1, color, radius=0.0) -> None:
        if radius <= 0:
            self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], color)
            return
        r = min(radius, (x1 - x0) / 2, (y1 - y0) / 2)
        self.poly(_rounded_rect(x0, y0, x1, y1, r), color)

    def finish(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Shade (light from above, fine texture) and premultiply."""
        h, w = self.alpha.shape
        alpha = self.alpha.astype(np.float32) / 255.0
        shade = np.linspace(1.12, 0.82, h, dtype=np.float32)[:, None, None]
        grain = cv2.resize(rng.normal(1.0, 0.035, (max(2, h // 6), max(2, w // 6))).astype(np.float32),
                           (w, h), interpolation=cv2.INTER_CUBIC)[:, :, None]
        # The colour canvas was drawn onto black with anti-aliasing, i.e. it is already
        # approximately premultiplied; divide out coverage first so shading stays exact.
        base = self.color.astype(np.float32) / np.maximum(alpha, 1.0 / 255.0)[:, :, None]
        color = np.clip(base * shade * grain, 0, 255) * alpha[:, :, None]
        return color.astype(np.float32), alpha


def _bgr(color) -> tuple[int, int, int]:
    return tuple(int(np.clip(c, 0, 255)) for c in color)


def _rounded_rect(x0, y0, x1, y1, r, n=6):
    pts = []
    for cx, cy, a0 in ((x1 - r, y0 + r, -90), (x1 - r, y1 - r, 0), (x0 + r, y1 - r, 90), (x0 + r, y0 + r, 180)):
        for a in np.linspace(a0, a0 + 90, n):
            pts.append((cx + r * np.cos(np.radians(a)), cy + r * np.sin(np.radians(a))))
    return pts


def _shade(color, factor) -> tuple[float, float, float]:
    return tuple(float(np.clip(c * factor, 0, 255)) for c in color)


def _pick(rng: np.random.Generator, palette) -> tuple[float, float, float]:
    base = np.asarray(palette[int(rng.integers(len(palette)))], np.float64)
    return tuple(np.clip(base * rng.uniform(0.85, 1.15) + rng.normal(0, 8, 3), 0, 255))


# BGR palettes
_CAR_PAINT = [(40, 40, 200), (200, 80, 30), (235, 235, 235), (30, 30, 30), (170, 170, 175),
              (30, 200, 230), (60, 140, 40), (120, 60, 110), (20, 90, 160)]
_SKIN = [(140, 180, 230), (110, 150, 200), (70, 110, 160), (50, 80, 120), (160, 200, 240)]
_CLOTH = [(200, 60, 40), (40, 40, 180), (50, 160, 60), (30, 30, 30), (220, 220, 220),
          (40, 170, 220), (140, 60, 150), (90, 90, 90), (20, 110, 200)]
_TROUSERS = [(120, 60, 30), (40, 40, 40), (90, 90, 100), (150, 120, 80), (60, 80, 110)]
_FUR = [(40, 70, 120), (25, 25, 30), (225, 230, 235), (80, 150, 200), (120, 120, 125), (30, 50, 90)]
_BIKE = [(30, 30, 200), (200, 120, 20), (30, 180, 30), (20, 20, 20), (200, 200, 200), (0, 200, 240)]
_TRUCK_CARGO = [(235, 235, 235), (200, 200, 205), (40, 100, 200), (160, 90, 30), (60, 60, 60)]


def _canvas_size(class_id: int) -> tuple[int, int]:
    return int(round(CANONICAL_HEIGHT * CLASS_SPECS[class_id].aspect)), CANONICAL_HEIGHT


def _draw_car(rng: np.random.Generator) -> list[_Canvas]:
    w, h = _canvas_size(0)
    c = _Canvas(w, h)
    paint = _pick(rng, _CAR_PAINT)
    roof = rng.uniform(0.05, 0.14) * h
    belt = rng.uniform(0.40, 0.48) * h
    cab0, cab1 = rng.uniform(0.20, 0.30) * w, rng.uniform(0.68, 0.80) * w
    c.rect(0.01 * w, belt - 0.02 * h, 0.99 * w, 0.80 * h, paint, radius=0.10 * h)
    c.poly([(cab0 - 0.10 * w, belt), (cab0 + 0.06 * w, roof), (cab1 - 0.04 * w, roof),
            (cab1 + 0.08 * w, belt)], _shade(paint, 0.95))
    glass = _pick(rng, [(90, 70, 50), (120, 100, 80), (60, 50, 40)])
    inset = 0.035 * h
    mid = (cab0 + cab1) / 2
    c.poly([(cab0 - 0.07 * w, belt - inset * 0.5), (cab0 + 0.07 * w, roof + inset),
            (mid - 0.01 * w, roof + inset), (mid - 0.01 * w, belt - inset * 0.5)], glass)
    c.poly([(mid + 0.01 * w, belt - inset * 0.5), (mid + 0.01 * w, roof + inset),
            (cab1 - 0.05 * w, roof + inset), (cab1 + 0.05 * w, belt - inset * 0.5)], glass)
    c.line(0.05 * w, 0.56 * h, 0.95 * w, 0.56 * h, _shade(paint, 0.7), 0.012 * h)
    c.rect(0.94 * w, 0.50 * h, 0.99 * w, 0.58 * h, (160, 230, 250))  # headlight
    c.rect(0.01 * w, 0.50 * h, 0.04 * w, 0.58 * h, (30, 30, 200))  # tail light
    c.rect(0.0, 0.70 * h, 1.0 * w, 0.78 * h, (35, 35, 35), radius=0.03 * h)  # bumpers / sill
    r = 0.17 * h
    for wx in (0.20 * w, 0.80 * w):
        c.ellipse(wx, 0.82 * h, r * 1.08, r * 1.08, (25, 25, 25))
        c.ellipse(wx, 0.82 * h, r * 0.55, r * 0.55, _pick(rng, [(150, 150, 155), (60, 60, 60)]))
        c.ellipse(wx, 0.82 * h, r * 0.15, r * 0.15, (40, 40, 40))
    return [c]


def _draw_truck(rng: np.random.Generator) -> list[_Canvas]:
    w, h = _canvas_size(4)
    c = _Canvas(w, h)
    cargo = _pick(rng, _TRUCK_CARGO)
    cab = _pick(rng, _CAR_PAINT)
    split = rng.uniform(0.68, 0.74) * w
    c.rect(0.01 * w, 0.02 * h, split, 0.78 * h, cargo, radius=0.02 * h)
    for k in range(1, 4):  # panel seams
        x = 0.01 * w + k * (split - 0.01 * w) / 4
        c.line(x, 0.06 * h, x, 0.74 * h, _shade(cargo, 0.8), 0.01 * h)
    if rng.random() < 0.6:  # a logo stripe
        c.rect(0.06 * w, 0.35 * h, split - 0.05 * w, 0.45 * h, _pick(rng, _CLOTH))
    c.poly([(split + 0.01 * w, 0.22 * h), (0.90 * w, 0.22 * h), (0.99 * w, 0.50 * h),
            (0.99 * w, 0.82 * h), (split + 0.01 * w, 0.82 * h)], cab)
    c.poly([(0.80 * w, 0.27 * h), (0.895 * w, 0.27 * h), (0.955 * w, 0.48 * h), (0.80 * w, 0.48 * h)],
           (110, 90, 70))
    c.rect(split - 0.02 * w, 0.74 * h, 0.99 * w, 0.82 * h, (40, 40, 40))  # chassis
    c.rect(0.96 * w, 0.60 * h, 0.99 * w, 0.67 * h, (160, 230, 250))
    r = 0.13 * h
    for wx in (0.13 * w, 0.27 * w, 0.86 * w):
        c.ellipse(wx, 0.86 * h, r, r, (22, 22, 22))
        c.ellipse(wx, 0.86 * h, r * 0.5, r * 0.5, (140, 140, 145))
    return [c]


def _draw_person(rng: np.random.Generator, poses: int) -> list[_Canvas]:
    w, h = _canvas_size(1)
    skin, shirt, trousers = _pick(rng, _SKIN), _pick(rng, _CLOTH), _pick(rng, _TROUSERS)
    hair = _pick(rng, [(20, 20, 20), (30, 60, 100), (60, 120, 180), (200, 200, 200)])
    long_coat = rng.random() < 0.25
    bag = rng.random() < 0.3
    cx = w / 2
    head_r = 0.075 * h
    hip_y, shoulder_y = 0.52 * h, 0.20 * h
    leg_len = 0.44 * h
    canvases = []
    for k in range(poses):
        swing = np.sin(2 * np.pi * k / poses) * 0.42  # radians
        c = _Canvas(w, h)
        for sign, shade in ((1, 0.8), (-1, 1.0)):  # far leg darker
            ang = sign * swing
            fx, fy = cx + np.sin(ang) * leg_len, hip_y + np.cos(ang) * leg_len
            c.line(cx, hip_y, fx, fy - 0.02 * h, _shade(trousers, shade), 0.075 * h)
            c.ellipse(fx + 0.02 * h, fy - 0.01 * h, 0.04 * h, 0.018 * h, (25, 25, 25))
        arm = -swing * 0.8
        c.line(cx, shoulder_y + 0.03 * h, cx + np.sin(arm) * 0.3 * h, shoulder_y + np.cos(arm) * 0.3 * h,
               _shade(shirt, 0.8), 0.05 * h)
        bottom = 0.66 * h if long_coat else hip_y + 0.03 * h
        c.rect(cx - 0.12 * w * 1.1, shoulder_y, cx + 0.12 * w * 1.1, bottom, shirt, radius=0.04 * h)
        c.line(cx, shoulder_y + 0.03 * h, cx - np.sin(arm) * 0.3 * h, shoulder_y + np.cos(arm) * 0.3 * h,
               shirt, 0.05 * h)
        if bag:
            c.rect(cx - 0.16 * w * 1.6, shoulder_y + 0.05 * h, cx - 0.02 * w, shoulder_y + 0.2 * h,
                   _shade(trousers, 0.6), radius=0.01 * h)
        c.rect(cx - 0.025 * h, shoulder_y - 0.04 * h, cx + 0.025 * h, shoulder_y + 0.01 * h, skin)
        c.ellipse(cx + 0.01 * h, 0.11 * h, head_r * 0.9, head_r, skin)
        c.ellipse(cx - 0.005 * h, 0.085 * h, head_r * 0.95, head_r * 0.65, hair)
        canvases.append(c)
    return canvases


def _draw_bicycle(rng: np.random.Generator, poses: int) -> list[_Canvas]:
    w, h = _canvas_size(2)
    frame_col = _pick(rng, _BIKE)
    r = 0.34 * h
    rear, front, wy = (0.25 * w, 0.64 * h), (0.75 * w, 0.64 * h), 0.64 * h
    crank = (0.47 * w, 0.66 * h)
    seat = (0.40 * w, 0.18 * h)
    head = (0.70 * w, 0.14 * h)
    canvases = []
    for k in range(poses):
        c = _Canvas(w, h)
        for wx, _ in (rear, front):
            c.ellipse(wx, wy, r, r, (25, 25, 25), thickness=0.06 * h)
            c.ellipse(wx, wy, r * 0.93, r * 0.93, (140, 140, 140), thickness=0.012 * h)
            for s in range(6):
                a = np.pi * s / 6 + 2 * np.pi * k / (poses * 6)
                c.line(wx - np.cos(a) * r * 0.9, wy - np.sin(a) * r * 0.9,
                       wx + np.cos(a) * r * 0.9, wy + np.sin(a) * r * 0.9, (170, 170, 170), 0.006 * h)
        t = 0.045 * h
        c.line(*rear, *crank, frame_col, t)
        c.line(*rear, seat[0] + 0.02 * w, seat[1] + 0.12 * h, frame_col, t)
        c.line(*crank, seat[0] + 0.02 * w, seat[1] + 0.12 * h, frame_col, t)
        c.line(*crank, head[0], head[1] + 0.14 * h, frame_col, t)
        c.line(seat[0] + 0.02 * w, seat[1] + 0.12 * h, head[0], head[1] + 0.14 * h, frame_col, t)
        c.line(head[0], head[1] + 0.06 * h, *front, _shade(frame_col, 0.8), t)
        c.line(seat[0] + 0.02 * w, seat[1] + 0.12 * h, *seat, (60, 60, 60), 0.03 * h)
        c.rect(seat[0] - 0.06 * w, seat[1] - 0.02 * h, seat[0] + 0.05 * w, seat[1] + 0.02 * h,
               (20, 20, 20), radius=0.015 * h)
        c.line(head[0], head[1] + 0.06 * h, head[0] - 0.01 * w, head[1] - 0.02 * h, (60, 60, 60), 0.03 * h)
        c.line(head[0] - 0.01 * w, head[1] - 0.02 * h, head[0] - 0.08 * w, head[1] - 0.01 * h, (20, 20, 20),
               0.035 * h)
        pa = 2 * np.pi * k / poses
        px, py = np.cos(pa) * 0.09 * h, np.sin(pa) * 0.09 * h
        c.line(crank[0] - px, crank[1] - py, crank[0] + px, crank[1] + py, (50, 50, 50), 0.025 * h)
        c.ellipse(*crank, 0.05 * h, 0.05 * h, (90, 90, 90))
        canvases.append(c)
    return canvases


def _draw_dog(rng: np.random.Generator, poses: int) -> list[_Canvas]:
    w, h = _canvas_size(3)
    fur = _pick(rng, _FUR)
    dark = _shade(fur, 0.6)
    spots = rng.random() < 0.35
    body_y, body_rx, body_ry = 0.44 * h, 0.32 * w, 0.17 * h
    bx = 0.45 * w
    leg_top = body_y + 0.05 * h
    leg_len = 0.44 * h
    canvases = []
    for k in range(poses):
        c = _Canvas(w, h)
        swing = np.sin(2 * np.pi * k / poses) * 0.45
        tail_a = np.sin(4 * np.pi * k / poses) * 0.3
        c.line(bx - body_rx * 0.9, body_y - 0.05 * h, bx - body_rx * 1.25 - np.cos(tail_a) * 0.02 * w,
               body_y - 0.25 * h + tail_a * 0.1 * h, fur, 0.045 * h)
        for lx, sign, shade in ((bx - body_rx * 0.6, 1, 0.75), (bx + body_rx * 0.6, -1, 0.75),
                                (bx - body_rx * 0.6, -1, 1.0), (bx + body_rx * 0.6, 1, 1.0)):
            a = sign * swing
            c.line(lx, leg_top, lx + np.sin(a) * leg_len * 0.9, min(0.985 * h, leg_top + np.cos(a) * leg_len),
                   _shade(fur, shade), 0.07 * h)
        c.ellipse(bx, body_y, body_rx, body_ry, fur)
        if spots:
            c.ellipse(bx - body_rx * 0.2, body_y - body_ry * 0.2, body_rx * 0.3, body_ry * 0.5, dark)
        hx, hy = bx + body_rx * 1.05, body_y - 0.2 * h
        c.line(bx + body_rx * 0.7, body_y - 0.02 * h, hx - 0.02 * w, hy + 0.06 * h, fur, 0.14 * h)
        c.ellipse(hx, hy, 0.11 * h, 0.10 * h, fur)
        c.ellipse(hx + 0.10 * h, hy + 0.04 * h, 0.09 * h, 0.055 * h, _shade(fur, 0.9))
        c.ellipse(hx + 0.18 * h, hy + 0.02 * h, 0.025 * h, 0.022 * h, (20, 20, 20))
        c.poly([(hx - 0.08 * h, hy - 0.04 * h), (hx - 0.02 * h, hy - 0.16 * h), (hx + 0.02 * h, hy - 0.05 * h)],
               dark)
        c.ellipse(hx + 0.03 * h, hy - 0.02 * h, 0.015 * h, 0.015 * h, (10, 10, 10))
        canvases.append(c)
    return canvases


def make_sprite(class_id: int, rng: np.random.Generator) -> Sprite:
    """Draw one instance of class `class_id` with its own colours and proportions."""
    if not 0 <= class_id < len(SYNTH_CLASSES):
        raise ValueError(f"class_id must be in [0, {len(SYNTH_CLASSES)}), got {class_id}")
    spec = CLASS_SPECS[class_id]
    if class_id == 0:
        canvases = _draw_car(rng)
    elif class_id == 1:
        canvases = _draw_person(rng, spec.poses)
    elif class_id == 2:
        canvases = _draw_bicycle(rng, spec.poses)
    elif class_id == 3:
        canvases = _draw_dog(rng, spec.poses)
    else:
        canvases = _draw_truck(rng)
    grain_seed = int(rng.integers(2**32))  # same grain on every pose, so texture does not flicker
    finished = [cv.finish(np.random.default_rng(grain_seed)) for cv in canvases]
    return Sprite(tuple(f[0] for f in finished), tuple(f[1] for f in finished))
