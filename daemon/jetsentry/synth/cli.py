"""`jetsentry synth`: render a run of scenes (in parallel), print their statistics."""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from jetsentry.synth.dataset import write_data_yaml
from jetsentry.synth.scene import SceneResult, check_scene_size, generate_scene, scene_seed
from jetsentry.synth.shapes import SYNTH_CLASSES
from jetsentry.synth.stats import combine_statistics, format_statistics

EXIT_USAGE = 2


def build_parser(prog: str = "jetsentry synth") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Render synthetic scenes with exact ground truth.")
    p.add_argument("--seed", type=int, required=True, help="run seed; scene k uses a seed derived from (seed, k)")
    p.add_argument("--out", type=Path, required=True, help="output folder, one scene_NNNN/ per scene")
    p.add_argument("--scenes", type=int, default=1, help="number of scenes (default 1)")
    p.add_argument("--frames", type=int, default=150, help="frames per scene (default 150)")
    p.add_argument("--width", type=int, default=640, help="frame width, even (default 640)")
    p.add_argument("--height", type=int, default=360, help="frame height, even (default 360)")
    p.add_argument("--fps", type=int, default=15, help="video frame rate (default 15)")
    p.add_argument("--dataset", type=Path, default=None, help="also export a YOLO image dataset here")
    p.add_argument("--every", type=int, default=3, help="export every Nth frame to the dataset (default 3)")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="fraction of the run's scenes (the last ones) exported to the val split (default 0.1)")
    p.add_argument("--no-video", action="store_true", help="skip H.264 encoding (no GStreamer needed)")
    p.add_argument("--jobs", type=int, default=None, help="parallel processes (default: CPU count)")
    return p


def _check_args(args: argparse.Namespace) -> str | None:
    """The first problem with the arguments, as a message, or None."""
    if args.seed < 0:
        return f"--seed must be >= 0, got {args.seed}"
    if args.scenes < 1:
        return f"--scenes must be >= 1, got {args.scenes}"
    try:
        check_scene_size(args.frames, args.width, args.height, args.fps)
    except ValueError as exc:
        return str(exc).replace("frames must", "--frames must").replace("fps must", "--fps must")
    if args.every < 1:
        return f"--every must be >= 1, got {args.every}"
    if not 0.0 <= args.val_fraction < 1.0:
        return f"--val-fraction must be in [0, 1), got {args.val_fraction}"
    if args.jobs is not None and args.jobs < 1:
        return f"--jobs must be >= 1, got {args.jobs}"
    for flag, path in (("--out", args.out), ("--dataset", args.dataset)):
        if path is not None and path.exists() and not path.is_dir():
            return f"{flag} {path} exists and is not a directory"
    return None


def _val_scenes(scenes: int, fraction: float) -> int:
    if scenes < 2 or fraction <= 0:
        return 0
    return min(scenes - 1, max(1, round(scenes * fraction)))


def _render_one(job: dict) -> SceneResult:
    return generate_scene(**job)


def _worker_init() -> None:
    import cv2

    cv2.setNumThreads(1)  # one process per core already; nested threads would oversubscribe


def run(args: argparse.Namespace, out=None) -> int:
    out = out or sys.stdout
    n_val = _val_scenes(args.scenes, args.val_fraction) if args.dataset is not None else 0
    jobs = []
    for k in range(args.scenes):
        seed = scene_seed(args.seed, k)
        name = f"scene_{k:04d}"
        jobs.append(dict(
            seed=seed, out_dir=args.out / name, frames=args.frames, width=args.width, height=args.height,
            fps=args.fps, video=not args.no_video, dataset_dir=args.dataset,
            dataset_split="val" if k >= args.scenes - n_val else "train", every=args.every,
            dataset_prefix=f"r{args.seed}_{name}",
        ))
    workers = min(args.jobs or os.cpu_count() or 1, len(jobs))
    start = time.perf_counter()
    results: list[SceneResult] = []
    if workers == 1:
        for job in jobs:
            results.append(_render_one(job))
            _print_scene(results[-1], out)
    else:
        # spawn: children must not inherit a parent's GStreamer or OpenCV threads.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as pool:
            for result in pool.map(_render_one, jobs):
                results.append(result)
                _print_scene(result, out)
    wall = time.perf_counter() - start
    totals = combine_statistics(r.statistics for r in results)
    rendered = sum(r.rendered_frames for r in results)
    busy = sum(r.seconds for r in results)
    print(f"total: {format_statistics(totals)}", file=out)
    print(f"total: {len(results)} scenes in {wall:.1f} s with {workers} process(es); "
          f"{sum(r.frames for r in results) / busy:.1f} frames/s per process "
          f"({rendered} rendered), {busy / len(results):.2f} s per scene", file=out)
    if args.dataset is not None:
        yaml_path = write_data_yaml(args.dataset, SYNTH_CLASSES, has_val=n_val > 0)
        images = sum(r.dataset_images for r in results)
        val_images = sum(r.dataset_images for r, j in zip(results, jobs) if j["dataset_split"] == "val")
        print(f"dataset: {images} images ({images - val_images} train, {val_images} val) -> {yaml_path}",
              file=out)
    return 0


def _print_scene(r: SceneResult, out) -> None:
    print(f"{r.name} seed={r.seed} {r.frames} frames in {r.seconds:.2f} s: {format_statistics(r.statistics)}",
          file=out, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed why
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    problem = _check_args(args)
    if problem is not None:
        print(f"jetsentry synth: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    if not args.no_video:
        from jetsentry.optional import GSTREAMER, require

        require("jetsentry synth (without --no-video)", GSTREAMER)
    try:
        return run(args)
    except (OSError, RuntimeError, ValueError) as exc:  # disk full, encoder failure, ...
        print(f"jetsentry synth: error: {exc}", file=sys.stderr)
        return 1
