"""Procedural backgrounds: a far zone (sky, facades, hedges) above the horizon and a
textured ground (grass, asphalt with lanes, paving, gravel) below it, plus static clutter."""

from __future__ import annotations

import cv2
import numpy as np

GROUND_KINDS = ("grass", "asphalt", "paving", "gravel", "sand")
FAR_KINDS = ("sky", "facade", "hedge")


def value_noise(rng: np.random.Generator, height: int, width: int, octaves: int = 5,
                base_cells: int = 4, persistence: float = 0.55) -> np.ndarray:
    """Multi-octave value noise in roughly [-1, 1], float32 (H, W)."""
    out = np.zeros((height, width), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = base_cells * 2**o
        gh = max(2, int(round(cells * height / max(height, width))) + 1)
        gw = max(2, int(round(cells * width / max(height, width))) + 1)
        grid = rng.uniform(-1, 1, (gh, gw)).astype(np.float32)
        out += amp * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= persistence
    return out / total


def _tint(noise: np.ndarray, base_bgr, contrast: float) -> np.ndarray:
    base = np.asarray(base_bgr, np.float32)
    return base[None, None, :] * (1.0 + contrast * noise[:, :, None])


def _ground(rng: np.random.Generator, kind: str, h: int, w: int) -> np.ndarray:
    n = value_noise(rng, h, w, octaves=6, base_cells=int(rng.integers(3, 9)))
    fine = rng.normal(0, 1, (h, w)).astype(np.float32)
    fine = cv2.GaussianBlur(fine, (0, 0), 0.8)
    if kind == "grass":
        base = (rng.uniform(30, 60), rng.uniform(110, 160), rng.uniform(60, 100))
        img = _tint(n, base, 0.35) + 18 * fine[:, :, None] * np.array([0.5, 1.0, 0.6], np.float32)
        streaks = cv2.blur(rng.normal(0, 1, (h, w)).astype(np.float32), (1, 7))
        img += 14 * streaks[:, :, None]
    elif kind == "asphalt":
        g = rng.uniform(70, 115)
        img = _tint(n, (g, g * 1.02, g * 1.04), 0.18) + 12 * fine[:, :, None]
    elif kind == "paving":
        g = rng.uniform(120, 180)
        base = (g * rng.uniform(0.8, 1.0), g * rng.uniform(0.85, 1.0), g)
        img = _tint(n, base, 0.15) + 8 * fine[:, :, None]
        tile = int(rng.integers(14, 34))
        jitter = rng.uniform(0.85, 1.12, (h // tile + 2, w // tile + 2)).astype(np.float32)
        img *= cv2.resize(jitter, (w, h), interpolation=cv2.INTER_NEAREST)[:h, :w, None]
        ys, xs = np.arange(h) % tile, np.arange(w) % tile
        grout = (ys[:, None] < 2) | (xs[None, :] < 2)
        img[grout] *= 0.6
    elif kind == "gravel":
        g = rng.uniform(100, 150)
        pebbles = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 1.6)
        img = _tint(n, (g * 0.9, g, g * 1.05), 0.2) + 60 * pebbles[:, :, None]
    else:  # sand
        img = _tint(n, (rng.uniform(110, 140), rng.uniform(160, 190), rng.uniform(190, 220)), 0.12)
        ripples = np.sin(np.arange(h, dtype=np.float32)[:, None] * rng.uniform(0.3, 0.7) + 3 * n)
        img += 10 * ripples[:, :, None] + 6 * fine[:, :, None]
    return img


def _far(rng: np.random.Generator, kind: str, h: int, w: int) -> np.ndarray:
    if h <= 0:
        return np.zeros((0, w, 3), np.float32)
    if kind == "sky":
        top = np.array([rng.uniform(180, 240), rng.uniform(140, 190), rng.uniform(90, 140)], np.float32)
        bottom = np.array([rng.uniform(200, 250), rng.uniform(190, 230), rng.uniform(170, 220)], np.float32)
        t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        img = np.broadcast_to(top * (1 - t) + bottom * t, (h, w, 3)).copy()
        clouds = np.clip(value_noise(rng, h, w, octaves=5, base_cells=3), 0, None)
        img += 80 * clouds[:, :, None]
        return img
    if kind == "facade":
        img = _tint(value_noise(rng, h, w, 4, 3), (rng.uniform(80, 160), rng.uniform(90, 160),
                                                   rng.uniform(100, 180)), 0.2)
        x = 0
        while x < w:  # buildings of varying width, each with a window grid
            bw = int(rng.integers(60, 200))
            col = np.array([rng.uniform(60, 200) for _ in range(3)], np.float32)
            img[:, x:x + bw] = img[:, x:x + bw] * 0.3 + col * 0.7
            win = int(rng.integers(8, 16))
            for wy in range(int(rng.integers(3, 8)), h - win, win * 2):
                for wx in range(x + 6, min(x + bw - win, w - win), win * 2):
                    img[wy:wy + win, wx:wx + win] = rng.uniform(40, 90) if rng.random() < 0.8 else 220
            x += bw + int(rng.integers(0, 20))
        return img
    base = (rng.uniform(20, 50), rng.uniform(70, 110), rng.uniform(30, 60))
    return _tint(value_noise(rng, h, w, 6, 8), base, 0.6)


def _clutter(rng: np.random.Generator, img: np.ndarray, horizon: int) -> None:
    """Static distractors: lane markings, kerbs, manholes, poles, bushes (drawn in place)."""
    h, w = img.shape[:2]
    if rng.random() < 0.7:  # a road band with dashed lane markings
        y0 = int(rng.uniform(horizon + 0.15 * (h - horizon), h * 0.75))
        y1 = min(h, y0 + int(rng.uniform(0.2, 0.4) * (h - horizon)))
        g = rng.uniform(60, 100)
        road = _tint(value_noise(rng, y1 - y0, w, 5, 12), (g, g, g * 1.03), 0.15)
        img[y0:y1] = road + 6 * rng.normal(0, 1, road.shape[:2]).astype(np.float32)[:, :, None]
        img[y0:y0 + 3] = 170
        img[max(y0, y1 - 3):y1] = 170
        ym = (y0 + y1) // 2
        dash, gap = int(rng.integers(20, 40)), int(rng.integers(15, 35))
        for x in range(int(rng.integers(0, gap)), w, dash + gap):
            img[ym - 1:ym + 2, x:x + dash] = (200, 230, 235)
    for _ in range(int(rng.integers(0, 5))):  # bushes / blobs
        cx, cy = int(rng.integers(0, w)), int(rng.integers(horizon, h))
        rx, ry = int(rng.integers(8, 30)), int(rng.integers(6, 18))
        col = (rng.uniform(20, 60), rng.uniform(60, 120), rng.uniform(20, 70))
        cv2.ellipse(img, (cx, cy), (rx, ry), 0, 0, 360, col, -1, cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 4))):  # poles from far zone into the ground
        x = int(rng.integers(0, w))
        y1 = int(rng.integers(horizon, h))
        cv2.line(img, (x, max(0, horizon - 40)), (x, y1), (60, 60, 65), int(rng.integers(2, 5)), cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 3))):  # manholes / stains
        cx, cy = int(rng.integers(0, w)), int(rng.integers(horizon, h))
        cv2.ellipse(img, (cx, cy), (int(rng.integers(6, 16)), int(rng.integers(3, 8))), 0, 0, 360,
                    (45, 45, 50), -1, cv2.LINE_AA)


def make_background(rng: np.random.Generator, width: int, height: int, horizon: int) -> np.ndarray:
    """A (height, width, 3) uint8 BGR background; `horizon` is the row where the ground starts."""
    ground = _ground(rng, GROUND_KINDS[int(rng.integers(len(GROUND_KINDS)))], height, width)
    far = _far(rng, FAR_KINDS[int(rng.integers(len(FAR_KINDS)))], horizon, width)
    img = ground.copy()
    img[:horizon] = far
    # Atmospheric haze towards the horizon (distance cue).
    t = np.clip((np.arange(height, dtype=np.float32) - horizon) / max(1, height - horizon), 0, 1)
    haze = (0.25 * (1 - t))[:, None, None]
    img = img * (1 - haze) + 190 * haze
    _clutter(rng, img, horizon)
    return np.clip(img, 0, 255).astype(np.uint8)
