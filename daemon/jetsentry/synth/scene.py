"""One synthetic scene: compositing of sprites over a background, exact ground truth from
the per-pixel sprite masks, and the scene folder (video, gt/gt.txt, seqinfo.ini, scene.json)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from jetsentry.synth.dataset import DatasetWriter
from jetsentry.synth.effects import (EffectParams, SensorNoise, apply_camera, lighting_gain, motion_blur_kernel,
                                     shake_offsets)
from jetsentry.synth.groundtruth import GroundTruth, consider_flags, write_gt
from jetsentry.synth.motion import Layout, Track, TrackSimulator
from jetsentry.synth.shapes import SYNTH_CLASSES
from jetsentry.synth.stats import scene_statistics
from jetsentry.synth.textures import make_background

GENERATOR_VERSION = "1.0"
ALPHA_ON = 0.5  # a pixel belongs to an object where its coverage exceeds this
SHAKE_MARGIN = 6  # px of background kept around the frame for camera shake
MIN_WIDTH, MIN_HEIGHT = 160, 96


@dataclass(frozen=True)
class SceneResult:
    name: str
    seed: int
    out_dir: Path
    statistics: dict
    frames: int
    rendered_frames: int
    dataset_images: int
    seconds: float


@dataclass(frozen=True)
class _Layer:
    """One object as drawn in one frame: its clipped patch and where it sits."""

    z: int
    track: Track
    y0: int
    x0: int
    alpha: np.ndarray  # (h, w) float32, clipped to the frame
    color: np.ndarray | None  # (h, w, 3) premultiplied float32, only when the frame is rendered


def scene_seed(run_seed: int, index: int) -> int:
    """Seed of scene `index` of a run started with `run_seed` (independent streams per scene)."""
    if run_seed < 0 or index < 0:
        raise ValueError(f"seed and scene index must be >= 0, got {run_seed}, {index}")
    seq = np.random.SeedSequence(entropy=run_seed, spawn_key=(index,))
    return int(seq.generate_state(1, np.uint32)[0])


def check_scene_size(frames: int, width: int, height: int, fps: int) -> None:
    """Raise ValueError naming the first bad argument."""
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        raise ValueError(f"frame size must be at least {MIN_WIDTH}x{MIN_HEIGHT}, got {width}x{height}")
    if width % 2 or height % 2:
        raise ValueError(f"width and height must be even (H.264 4:2:0), got {width}x{height}")
    if fps < 1:
        raise ValueError(f"fps must be >= 1, got {fps}")


class SceneRenderer:
    """Deterministic frame-by-frame renderer of one scene."""

    def __init__(self, seed: int, width: int, height: int, frames: int) -> None:
        self.seed, self.width, self.height, self.frames = seed, width, height, frames
        layout_rng, motion_rng, fx_rng, shake_rng, bg_rng, noise_rng = (
            np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6))
        horizon = int(height * layout_rng.uniform(0.15, 0.38))
        self.layout = Layout(width, height, horizon)
        self.target_count = int(layout_rng.integers(11, 16))
        n_cls = len(SYNTH_CLASSES)
        self.class_weights = 0.5 / n_cls + 0.5 * layout_rng.dirichlet(np.full(n_cls, 2.0))
        self.effects = EffectParams.draw(fx_rng)
        self.shake = shake_offsets(shake_rng, frames, self.effects.shake_sigma, SHAKE_MARGIN)
        self.background = make_background(bg_rng, width + 2 * SHAKE_MARGIN, height + 2 * SHAKE_MARGIN,
                                          horizon + SHAKE_MARGIN)
        self._noise: SensorNoise | None = None  # made on the first rendered frame
        self._noise_rng = noise_rng
        self.sim = TrackSimulator(motion_rng, self.layout, self.target_count, self.class_weights)

    def parameters(self) -> dict:
        e = self.effects
        return {
            "horizon": self.layout.horizon,
            "target_count": self.target_count,
            "class_weights": [round(float(w), 4) for w in self.class_weights],
            "noise_sigma": round(e.noise_sigma, 3),
            "shake_sigma": round(e.shake_sigma, 3),
            "lighting_drift": round(e.gain_amp, 3),
            "exposure": round(e.exposure, 3),
        }

    def _layer(self, z: int, t: Track, shake: np.ndarray, with_color: bool) -> _Layer | None:
        w, h = t.box_size(self.layout)
        wi, hi = max(1, int(np.floor(w + 0.5))), max(1, int(np.floor(h + 0.5)))
        pose = t.pose()
        alpha = cv2.resize(t.sprite.alphas[pose], (wi, hi), interpolation=cv2.INTER_AREA)
        color = (cv2.resize(t.sprite.colors[pose], (wi, hi), interpolation=cv2.INTER_AREA)
                 if with_color else None)
        if t.faces_left:
            alpha = cv2.flip(alpha, 1)
            color = cv2.flip(color, 1) if color is not None else None
        kernel = motion_blur_kernel(t.vx * self.effects.exposure, t.vy * self.effects.exposure)
        pad = 0
        if kernel is not None:
            pad = kernel.shape[0] // 2
            alpha = cv2.filter2D(cv2.copyMakeBorder(alpha, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0),
                                 -1, kernel, borderType=cv2.BORDER_CONSTANT)
            if color is not None:
                color = cv2.filter2D(cv2.copyMakeBorder(color, pad, pad, pad, pad, cv2.BORDER_CONSTANT,
                                                        value=(0, 0, 0)), -1, kernel,
                                     borderType=cv2.BORDER_CONSTANT)
        # Frame position: world position minus the camera offset (shake moves the view).
        fx0 = int(np.floor(t.x - wi / 2 + 0.5)) - int(shake[0]) - pad
        fy0 = int(np.floor(t.y - hi + 0.5)) - int(shake[1]) - pad
        ph, pw = alpha.shape
        cx0, cy0 = max(0, fx0), max(0, fy0)
        cx1, cy1 = min(self.width, fx0 + pw), min(self.height, fy0 + ph)
        if cx0 >= cx1 or cy0 >= cy1:
            return None
        sl = (slice(cy0 - fy0, cy1 - fy0), slice(cx0 - fx0, cx1 - fx0))
        return _Layer(z, t, cy0, cx0, alpha[sl], color[sl] if color is not None else None)

    def frame(self, index: int, render: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Ground-truth rows (n, 9) of frame `index` (0-based), and the BGR image if `render`.

        Frames must be requested in order 0, 1, 2, ... (the simulation advances one step each).
        """
        if index > 0:
            self.sim.step()
        return self.compose(index, self.sim.tracks, render)

    def compose(self, index: int, tracks: list[Track], render: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Draw `tracks` in their current state as frame `index`: ground-truth rows and image."""
        shake = self.shake[index]
        tracks = sorted(tracks, key=lambda t: (t.y, t.track_id))  # far first
        layers = [lay for z, t in enumerate(tracks) if (lay := self._layer(z, t, shake, render)) is not None]
        owner = np.full((self.height, self.width), -1, np.int32)  # front-most object per pixel
        rows = []
        for lay in layers:
            on = lay.alpha > ALPHA_ON
            if not on.any():
                continue
            ys, xs = np.flatnonzero(on.any(axis=1)), np.flatnonzero(on.any(axis=0))
            region = owner[lay.y0:lay.y0 + on.shape[0], lay.x0:lay.x0 + on.shape[1]]
            region[on] = lay.z
            rows.append((lay.z, lay.track.track_id, lay.x0 + xs[0], lay.y0 + ys[0],
                         xs[-1] - xs[0] + 1, ys[-1] - ys[0] + 1, int(on.sum()), lay.track.class_id))
        gt = np.zeros((0, 9))
        if rows:
            r = np.asarray(rows, np.float64)
            visible = np.bincount(owner.ravel() + 1, minlength=len(tracks) + 1)[1:]
            vis = visible[r[:, 0].astype(np.int64)] / r[:, 6]
            boxes = r[:, 2:6]
            gt = np.column_stack([np.full(len(r), index + 1), r[:, 1], boxes,
                                  consider_flags(boxes, vis), r[:, 7], vis])
        if not render:
            return gt, None
        m = SHAKE_MARGIN
        canvas = self.background[m + shake[1]:m + shake[1] + self.height,
                                 m + shake[0]:m + shake[0] + self.width].astype(np.float32)
        for lay in layers:
            region = canvas[lay.y0:lay.y0 + lay.alpha.shape[0], lay.x0:lay.x0 + lay.alpha.shape[1]]
            region *= (1.0 - lay.alpha)[:, :, None]
            region += lay.color
        if self._noise is None:
            self._noise = SensorNoise(self._noise_rng, self.height, self.width, self.effects.noise_sigma)
        noise = self._noise.sample(np.random.default_rng([self.seed, 7, index]))
        spatial, channel = lighting_gain(self.effects, index, self.height, self.width)
        return gt, apply_camera(canvas, spatial, channel, noise)


def _seqinfo(name: str, fps: int, frames: int, width: int, height: int) -> str:
    return (f"[Sequence]\nname={name}\nimDir=img1\nframeRate={fps}\nseqLength={frames}\n"
            f"imWidth={width}\nimHeight={height}\nimExt=.jpg\n")


def generate_scene(seed: int, out_dir: str | Path, frames: int = 150, width: int = 640, height: int = 360,
                   fps: int = 15, *, video: bool = True, dataset_dir: str | Path | None = None,
                   dataset_split: str = "train", every: int = 3, dataset_prefix: str | None = None,
                   ) -> SceneResult:
    """Render one scene into `out_dir` (created): video.mp4 (unless video=False), gt/gt.txt,
    seqinfo.ini, scene.json; with `dataset_dir`, every `every`-th frame also goes to a YOLO dataset."""
    check_scene_size(frames, width, height, fps)
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"output path exists and is not a directory: {out_dir}")
    start = time.perf_counter()
    (out_dir / "gt").mkdir(parents=True, exist_ok=True)
    name = out_dir.name
    renderer = SceneRenderer(seed, width, height, frames)
    writer = None
    stale_video = out_dir / "video.mp4"
    if not video and stale_video.exists():
        stale_video.unlink()  # a video from an earlier run would not match the new ground truth
    if video:
        from jetsentry.synth.encode import H264Mp4Writer  # gi only when encoding

        writer = H264Mp4Writer(out_dir / "video.mp4", width, height, fps)
    dataset = (DatasetWriter(dataset_dir, dataset_split, dataset_prefix or f"{name}_{seed}")
               if dataset_dir is not None else None)
    all_rows, rendered = [], 0
    try:
        for i in range(frames):
            export = dataset is not None and i % every == 0
            rows, image = renderer.frame(i, render=video or export)
            all_rows.append(rows)
            if image is None:
                continue
            rendered += 1
            if writer is not None:
                writer.write(image)
            if export:
                dataset.write(i + 1, image, rows[:, 2:6], rows[:, 7].astype(np.int64), rows[:, 8])
    finally:
        if writer is not None:
            writer.close()
    gt = GroundTruth.from_rows(np.concatenate(all_rows))
    write_gt(out_dir / "gt" / "gt.txt", gt)
    stats = scene_statistics(gt.frame, gt.track_id, gt.boxes, gt.visibility, n_frames=frames,
                             consider=gt.consider)
    (out_dir / "seqinfo.ini").write_text(_seqinfo(name, fps, frames, width, height), encoding="ascii")
    info = {
        "name": name,
        "seed": seed,
        "generator_version": GENERATOR_VERSION,
        "classes": list(SYNTH_CLASSES),
        "frames": frames,
        "width": width,
        "height": height,
        "fps": fps,
        "video": "video.mp4" if video else None,
        "parameters": renderer.parameters(),
        "statistics": stats,
    }
    (out_dir / "scene.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return SceneResult(name, seed, out_dir, stats, frames, rendered,
                       dataset.count if dataset is not None else 0, time.perf_counter() - start)


