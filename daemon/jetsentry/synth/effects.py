"""Camera and sensor effects: lighting drift, sensor noise, motion blur, camera shake."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class EffectParams:
    """Per-scene effect strengths, drawn once from the scene's RNG."""

    gain_base: tuple[float, float, float]  # per-channel colour cast
    gain_amp: float  # amplitude of the global brightness drift
    gain_period: float  # frames
    gain_phase: float
    gradient_amp: float  # strength of the moving illumination gradient (cloud shadow)
    gradient_speed: float  # radians per frame of its rotation
    noise_sigma: float  # sensor noise, grey levels
    shake_sigma: float  # camera shake innovation, px per frame
    exposure: float  # fraction of the frame interval the shutter is open (motion blur)

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "EffectParams":
        return cls(
            gain_base=tuple(float(v) for v in rng.uniform(0.9, 1.1, 3)),
            gain_amp=float(rng.uniform(0.05, 0.25)),
            gain_period=float(rng.uniform(60, 300)),
            gain_phase=float(rng.uniform(0, 2 * np.pi)),
            gradient_amp=float(rng.uniform(0.0, 0.25)),
            gradient_speed=float(rng.uniform(-0.02, 0.02)),
            noise_sigma=float(rng.uniform(1.5, 6.0)),
            shake_sigma=float(rng.choice([0.0, rng.uniform(0.2, 0.9)])),
            exposure=float(rng.uniform(0.4, 0.9)),
        )


def shake_offsets(rng: np.random.Generator, frames: int, sigma: float, limit: int) -> np.ndarray:
    """Integer (frames, 2) camera offsets (dx, dy): a damped random walk within +-limit.

    Integer offsets keep the background crop and the ground-truth shift exactly equal.
    """
    steps = rng.normal(0.0, sigma, (frames, 2))
    out = np.zeros((frames, 2))
    pos = np.zeros(2)
    for i in range(frames):  # AR(1): jitter that returns to centre
        pos = 0.85 * pos + steps[i]
        out[i] = pos
    return np.clip(np.round(out), -limit, limit).astype(np.int64)


def lighting_gain(params: EffectParams, frame_index: int, height: int,
                  width: int) -> tuple[np.ndarray, np.ndarray]:
    """Multiplicative gain of frame `frame_index`: spatial (H, W) float32 and per-channel (3,)."""
    g = 1.0 + params.gain_amp * np.sin(2 * np.pi * frame_index / params.gain_period + params.gain_phase)
    ang = params.gain_phase + params.gradient_speed * frame_index
    xs = np.linspace(-1, 1, width, dtype=np.float32) * np.float32(params.gradient_amp * np.cos(ang))
    ys = np.linspace(-1, 1, height, dtype=np.float32) * np.float32(params.gradient_amp * np.sin(ang))
    spatial = (1.0 + xs[None, :]) + ys[:, None]
    return spatial, np.asarray(params.gain_base, np.float32) * np.float32(g)


class SensorNoise:
    """Gaussian sensor noise; one bank per scene, a randomly shifted window of it per frame
    (drawing 0.7 M normals per frame would dominate the render time)."""

    MAX_SHIFT = 48

    def __init__(self, rng: np.random.Generator, height: int, width: int, sigma: float) -> None:
        self.height, self.width = height, width
        m = self.MAX_SHIFT
        self.bank = rng.standard_normal((height + m, width + m, 3), dtype=np.float32) * np.float32(sigma)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        dy, dx = (int(v) for v in rng.integers(0, self.MAX_SHIFT + 1, 2))
        return self.bank[dy:dy + self.height, dx:dx + self.width]


def apply_camera(frame: np.ndarray, spatial_gain: np.ndarray, channel_gain: np.ndarray,
                 noise: np.ndarray) -> np.ndarray:
    """Lighting gain and sensor noise on a float32 (H, W, 3) frame (modified); returns uint8."""
    frame *= channel_gain
    frame *= spatial_gain[:, :, None]
    return cv2.add(frame, noise, dtype=cv2.CV_8U)  # saturating, rounding: one pass


def motion_blur_kernel(dx: float, dy: float) -> np.ndarray | None:
    """Normalised line kernel along the displacement (dx, dy) in px; None if negligible."""
    length = float(np.hypot(dx, dy))
    if length < 1.5:
        return None
    half = int(np.ceil(length / 2))
    size = 2 * half + 1
    k = np.zeros((size, size), np.float32)
    ux, uy = dx / length, dy / length
    p0 = (half - ux * length / 2, half - uy * length / 2)
    p1 = (half + ux * length / 2, half + uy * length / 2)
    cv2.line(k, (int(round(p0[0] * 8)), int(round(p0[1] * 8))), (int(round(p1[0] * 8)), int(round(p1[1] * 8))),
             1.0, 1, cv2.LINE_AA, 3)
    s = float(k.sum())
    if s <= 0:
        return None
    return k / s
