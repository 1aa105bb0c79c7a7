"""Object trajectories on a perspective ground plane: speed with acceleration, heading with
turns, scale from the distance to the horizon, entry and exit at the frame borders."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from jetsentry.synth.shapes import CLASS_SPECS, Sprite, make_sprite

REFERENCE_HEIGHT = 360.0  # class sizes and speeds are given for a frame this tall
MIN_HEIGHT_PX = 20.0  # at REFERENCE_HEIGHT
MAX_HEIGHT_PX = 120.0
FORESHORTENING = 0.45  # image-y speed per unit of ground speed along the depth axis


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    horizon: int  # first ground row

    @property
    def ground_top(self) -> float:
        """Highest foot position allowed (farthest from the camera)."""
        return self.horizon + 0.14 * (self.height - self.horizon)

    @property
    def px_scale(self) -> float:
        return self.height / REFERENCE_HEIGHT

    def perspective(self, foot_y: float) -> float:
        """Size factor: 1 at the bottom row, smaller towards the horizon."""
        t = (foot_y - self.horizon) / max(1.0, self.height - self.horizon)
        return float(np.clip(0.40 + 0.60 * t, 0.3, 1.15))


@dataclass
class Track:
    track_id: int
    class_id: int
    sprite: Sprite
    size: float  # instance height at perspective 1, px at REFERENCE_HEIGHT
    x: float  # foot point, frame coordinates without camera shake
    y: float
    speed: float  # ground px per frame
    heading: float  # radians; 0 = moving right, pi/2 = towards the camera
    turn_rate: float = 0.0
    accel: float = 0.0
    phase: float = 0.0
    turn_frames: int = 0  # remaining frames of a deliberate turn
    entered: bool = False  # has been inside the frame at least once
    vx: float = field(default=0.0)
    vy: float = field(default=0.0)

    def box_size(self, layout: Layout) -> tuple[float, float]:
        """(width, height) in px of the sprite at the current position and heading."""
        spec = CLASS_SPECS[self.class_id]
        h = self.size * layout.perspective(self.y)
        h = float(np.clip(h, MIN_HEIGHT_PX, MAX_HEIGHT_PX)) * layout.px_scale
        # The side view narrows as the object turns towards or away from the camera.
        turn_squash = spec.end_on_width + (1 - spec.end_on_width) * abs(np.cos(self.heading))
        return h * spec.aspect * turn_squash, h

    @property
    def faces_left(self) -> bool:
        return np.cos(self.heading) < 0

    def pose(self) -> int:
        return int(self.phase) % len(self.sprite.alphas)


class TrackSimulator:
    """Owns the live tracks of one scene and advances them frame by frame."""

    def __init__(self, rng: np.random.Generator, layout: Layout, target_count: int,
                 class_weights: np.ndarray) -> None:
        self.rng = rng
        self.layout = layout
        self.target_count = target_count
        self.class_weights = class_weights / class_weights.sum()
        self.tracks: list[Track] = []
        self._next_id = 1
        for _ in range(target_count):
            self._spawn(inside=True)

    def _spawn(self, inside: bool) -> None:
        rng, lay = self.rng, self.layout
        class_id = int(rng.choice(len(CLASS_SPECS), p=self.class_weights))
        spec = CLASS_SPECS[class_id]
        size = float(rng.uniform(*spec.height_near))
        speed = float(rng.uniform(*spec.speed))
        r = rng.random()
        if inside:
            x = float(rng.uniform(0, lay.width))
            y = float(rng.uniform(lay.ground_top, lay.height * 1.02))
            heading = float(rng.choice([0.0, np.pi]) + rng.normal(0, 0.35))
            if r < 0.15:
                heading = float(rng.choice([-1.0, 1.0]) * np.pi / 2 + rng.normal(0, 0.3))
        elif r < 0.85:  # from the left or right border
            y = float(rng.uniform(lay.ground_top, lay.height * 1.02))
            left = rng.random() < 0.5
            w_px = size * spec.aspect * lay.perspective(y) * lay.px_scale
            x = -0.5 * w_px if left else lay.width + 0.5 * w_px
            heading = float((0.0 if left else np.pi) + rng.normal(0, 0.25))
        else:  # from below the frame, walking or driving away from the camera
            x = float(rng.uniform(0.1, 0.9) * lay.width)
            y = lay.height + 0.9 * size * lay.px_scale
            heading = float(-np.pi / 2 + rng.normal(0, 0.4))
        sprite = make_sprite(class_id, rng)
        self.tracks.append(Track(self._next_id, class_id, sprite, size, x, y, speed, heading,
                                 phase=float(rng.uniform(0, 8))))
        self._next_id += 1

    def _steer(self, t: Track) -> None:
        rng = self.rng
        spec = CLASS_SPECS[t.class_id]
        vmin, vmax = spec.speed
        t.accel = 0.9 * t.accel + float(rng.normal(0, 0.04 * vmax))
        t.speed = float(np.clip(t.speed + t.accel, 0.3 * vmin, vmax))
        if t.turn_frames > 0:
            t.turn_frames -= 1
        else:
            t.turn_rate = 0.92 * t.turn_rate + float(rng.normal(0, 0.003))
            if rng.random() < 0.012:  # a deliberate turn of roughly 30-90 degrees
                t.turn_frames = int(rng.integers(10, 25))
                t.turn_rate = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.6) / t.turn_frames)
        t.heading += t.turn_rate
        lay = self.layout
        if t.y < lay.ground_top and np.sin(t.heading) < 0:  # reached the far edge: turn back
            t.heading = -t.heading
            t.turn_rate = -t.turn_rate
        # Keep headings mostly lateral so that crossings happen inside the frame.
        if abs(np.sin(t.heading)) > 0.97 and t.turn_frames == 0:
            t.turn_rate += float(np.sign(np.cos(t.heading)) or 1.0) * 0.01

    def step(self) -> None:
        """Advance every track by one frame, drop those that left, let new ones enter."""
        lay = self.layout
        for t in self.tracks:
            self._steer(t)
            p = lay.perspective(t.y) * lay.px_scale
            t.vx = t.speed * float(np.cos(t.heading)) * p
            t.vy = t.speed * float(np.sin(t.heading)) * p * FORESHORTENING
            t.x += t.vx
            t.y += t.vy
            w, h = t.box_size(lay)
            t.phase += abs(t.speed) * p / max(4.0, 0.22 * h)
        self.tracks = [t for t in self.tracks if not self._gone(t)]
        if len(self.tracks) < self.target_count and self.rng.random() < 0.3:
            self._spawn(inside=False)

    def _gone(self, t: Track) -> bool:
        w, h = t.box_size(self.layout)
        lay = self.layout
        outside = (t.x + w / 2 < -2 or t.x - w / 2 > lay.width + 2 or t.y - h > lay.height + 2)
        if not outside:
            t.entered = True
            return False
        moving_out = ((t.x < 0 and t.vx <= 0) or (t.x > lay.width and t.vx >= 0)
                      or (t.y > lay.height and t.vy >= 0))
        # A newcomer still approaching from outside is kept; one that left is dropped.
        return t.entered or moving_out
