"""Constant-velocity Kalman filter over boxes in xyah space, for many tracks at once.

State per track: (cx, cy, a, h, vcx, vcy, va, vh) with a = w / h, as in the ByteTrack
paper and its reference code (deep SORT's filter), with the reference's noise model
(proportional to the box height), so results match the reference implementations.

In this model nothing couples the four coordinates: the motion matrix pairs each
coordinate only with its own velocity, and the initial covariance and all noise
matrices are diagonal.  The 8x8 covariance therefore stays four independent 2x2 blocks,
and we store just those, as (N, 4, 3) = [var(position), cov(position, velocity),
var(velocity)] per coordinate.  Every step is then a few elementwise array operations
over all tracks, with the same results as the full matrix form.
"""

from __future__ import annotations

import numpy as np

# The reference's weights (deep SORT): position noise 1/20 and velocity noise 1/160 of
# the box height per frame; the aspect ratio gets small fixed noise instead.
_STD_WEIGHT_POSITION = 1.0 / 20
_STD_WEIGHT_VELOCITY = 1.0 / 160
_HEIGHT_SCALED = np.array([1.0, 1.0, 0.0, 1.0])  # which of (cx, cy, a, h) scale with h
_ASPECT_ONLY = 1.0 - _HEIGHT_SCALED

VAR_POS, COV_POS_VEL, VAR_VEL = 0, 1, 2  # layout of the last covariance axis


def _std(height: np.ndarray, height_weight: float, aspect_std: float) -> np.ndarray:
    """(N,) box heights -> (N, 4) standard deviations for (cx, cy, a, h)."""
    return height[:, None] * (height_weight * _HEIGHT_SCALED) + aspect_std * _ASPECT_ONLY


def xyxy_to_xyah(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) [x1, y1, x2, y2] -> (N, 4) [cx, cy, w / h, h] as float64."""
    boxes = np.asarray(boxes, dtype=np.float64)
    wh = boxes[:, 2:] - boxes[:, :2]
    out = np.empty_like(boxes)
    out[:, :2] = boxes[:, :2] + wh / 2
    out[:, 2] = wh[:, 0] / wh[:, 1]
    out[:, 3] = wh[:, 1]
    return out


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """(N, >=4) [cx, cy, a, h, ...] -> (N, 4) [x1, y1, x2, y2]; extra columns are ignored."""
    half = np.empty((xyah.shape[0], 2))
    half[:, 1] = xyah[:, 3] / 2
    half[:, 0] = xyah[:, 2] * half[:, 1]
    out = np.empty((xyah.shape[0], 4))
    out[:, :2] = xyah[:, :2] - half
    out[:, 2:] = xyah[:, :2] + half
    return out


def initiate(measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New tracks from unmatched xyah measurements (N, 4): zero velocity, wide covariance.

    Returns mean (N, 8) and covariance blocks (N, 4, 3).
    """
    measurements = np.asarray(measurements, dtype=np.float64)
    n = measurements.shape[0]
    mean = np.zeros((n, 8))
    mean[:, :4] = measurements
    height = measurements[:, 3]
    covariance = np.zeros((n, 4, 3))
    covariance[:, :, VAR_POS] = np.square(_std(height, 2 * _STD_WEIGHT_POSITION, 1e-2))
    covariance[:, :, VAR_VEL] = np.square(_std(height, 10 * _STD_WEIGHT_VELOCITY, 1e-5))
    return mean, covariance


def predict(mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One frame ahead for every track: x' = F x, P' = F P F^T + Q (new arrays)."""
    height = mean[:, 3]
    new_mean = mean.copy()
    new_mean[:, :4] += mean[:, 4:]
    var_pos, cov_pv, var_vel = covariance[:, :, VAR_POS], covariance[:, :, COV_POS_VEL], covariance[:, :, VAR_VEL]
    new_cov = np.empty_like(covariance)
    new_cov[:, :, VAR_POS] = var_pos + 2 * cov_pv + var_vel + np.square(_std(height, _STD_WEIGHT_POSITION, 1e-2))
    new_cov[:, :, COV_POS_VEL] = cov_pv + var_vel
    new_cov[:, :, VAR_VEL] = var_vel + np.square(_std(height, _STD_WEIGHT_VELOCITY, 1e-5))
    return new_mean, new_cov


def update(mean: np.ndarray, covariance: np.ndarray, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correct each track's state with its matched xyah measurement (row i with row i)."""
    var_pos, cov_pv, var_vel = covariance[:, :, VAR_POS], covariance[:, :, COV_POS_VEL], covariance[:, :, VAR_VEL]
    innovation_var = var_pos + np.square(_std(mean[:, 3], _STD_WEIGHT_POSITION, 1e-1))
    gain_pos = var_pos / innovation_var
    gain_vel = cov_pv / innovation_var
    innovation = np.asarray(measurements, dtype=np.float64) - mean[:, :4]
    new_mean = np.empty_like(mean)
    new_mean[:, :4] = mean[:, :4] + gain_pos * innovation
    new_mean[:, 4:] = mean[:, 4:] + gain_vel * innovation
    new_cov = np.empty_like(covariance)
    new_cov[:, :, VAR_POS] = var_pos - gain_pos * var_pos
    new_cov[:, :, COV_POS_VEL] = cov_pv - gain_pos * cov_pv
    new_cov[:, :, VAR_VEL] = var_vel - gain_vel * cov_pv
    return new_mean, new_cov
