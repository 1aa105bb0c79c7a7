"""Host CPU per frame after inference, as the GPU path runs it, for batches of 16 frames from 16 cameras.

The detections are the COCO YOLOv8n's own on the clip's frames (computed once with ONNX Runtime
on the CPU, cached in bench/.cache, then replayed): for each frame the anchors above the
tracker's low threshold, as the GPU head kernel hands them over (infer/head_kernel.py).
Camera c plays the clip from frame c * 7, so the 16 frames of a batch differ.  Steps, each
timed per batch of 16 (thread CPU time) and reported in µs per frame:

  candidates  the head kernel's host side: its candidate rows back in anchor order
              (head_kernel_types.candidates_from_rows);
  nms         postprocess_candidates: class-aware NMS and the mapping to source pixels;
  finish      FrameProcessor.finish: ByteTrack per camera (TrackerConfig defaults) and
              each frame's JSON message (its share of tracking and of messages by cProfile
              with --profile).

With --compare DIR (the daemon/ folder of another checkout, e.g. the commit before a change),
rounds alternate between that code and this checkout's, each in a fresh process, and the
outputs are compared: the message bytes (processed_ts and latency_ms, which are clocks, left
out) and the track ids of every frame.

    python bench/bench_finish_cost.py [--clip CLIP] [--batches 400] [--rounds 5] [--profile]
                                      [--compare DIR] [--name NAME]
"""

from __future__ import annotations

import os

# One core, as the frame path's thread has: no numeric thread pools (set before numpy loads).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import cProfile  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import pstats  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from common import (CACHE_DIR, PYTHON, REPO, CpuMonitor, bench_arguments, chosen_clip, chosen_model,  # noqa: E402
                    stats_ms, wait_for_quiet, write_result)

CAMERAS = 16
CAMERA_OFFSET = 7  # frames between the cameras' starting points in the clip
LOW_THRESHOLD = 0.1  # TrackerConfig().low_threshold: the frame path's NMS threshold while tracking
ROW = 7  # the recorded candidate row: anchor, score, class, cx, cy, w, h
_CLOCKS = re.compile(rb'"processed_ts":"[^"]*"|"latency_ms":\{[^}]*\}')


def _cache_path(model: Path, clip: Path, frames: int) -> Path:
    key = hashlib.sha256(f"{model.resolve()}:{model.stat().st_size}:{clip.resolve()}:{clip.stat().st_size}:"
                         f"{frames}:{LOW_THRESHOLD}".encode()).hexdigest()[:16]
    return CACHE_DIR / f"finish_cost_{clip.stem}_{key}.npz"


def recorded_candidates(model: Path, clip: Path, frames: int) -> dict:
    """Per frame of the clip: the head kernel's rows (anchors above LOW_THRESHOLD, shuffled as
    its atomic counter leaves them) and the frame size; computed once, then read from the cache."""
    path = _cache_path(model, clip, frames)
    if path.is_file():
        with np.load(path) as data:
            return dict(data)
    import cv2

    from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
    from jetsentry.infer.preprocess import Preprocessor

    engine = OnnxRuntimeEngine(model, threads=0)
    preprocess = Preprocessor(engine.info, 640)
    capture = cv2.VideoCapture(str(clip))
    rows, counts, boxes = [], [], []
    rng = np.random.default_rng(0)
    try:
        while len(counts) < frames:
            ok, image = capture.read()
            if not ok:
                break
            tensor, letterboxes = preprocess([image])
            head = engine.infer(tensor)[0]
            scores = head[4:]
            best = scores.argmax(axis=0)
            best_score = scores[best, np.arange(scores.shape[1])]
            anchors = np.flatnonzero(best_score > LOW_THRESHOLD)
            found = np.column_stack((anchors, best_score[anchors], best[anchors], head[:4, anchors].T))
            rows.append(found[rng.permutation(len(found))].astype(np.float32))
            counts.append(len(found))
            box = letterboxes[0]
            boxes.append((box.source_hw[0], box.source_hw[1]))
    finally:
        capture.release()
        engine.close()
    if not counts:
        raise SystemExit(f"no frame could be read from {clip}")
    data = {"rows": np.concatenate(rows), "counts": np.asarray(counts), "source_hw": np.asarray(boxes),
            "anchors": np.asarray(8400)}
    CACHE_DIR.mkdir(exist_ok=True)
    np.savez(path, **data)
    return data


class Replay:
    """Batches of CAMERAS frames: the head kernel's pinned rows, the letterboxes and Frames."""

    def __init__(self, data: dict) -> None:
        from jetsentry.infer.letterbox import fit

        self.counts = data["counts"]
        self.frames = len(self.counts)
        starts = np.concatenate(([0], np.cumsum(self.counts)))
        self._rows = [data["rows"][a:b] for a, b in zip(starts[:-1], starts[1:])]
        self._hw = [tuple(int(v) for v in hw) for hw in data["source_hw"]]
        self._letterbox = [fit(hw, (640, 640)) for hw in self._hw]
        self.anchors = int(data["anchors"])
        from jetsentry.infer.head_kernel_types import ROW as kernel_row

        # The kernel's layout of the code under test: one array of the batch's rows led by the image
        # (ROW 8), or, in code before that, a block of rows per image (ROW 7).
        self.batch_rows = kernel_row == ROW + 1
        self.host_rows = np.zeros((CAMERAS, self.anchors, ROW), np.float32)  # the pinned buffer's view
        self._pictures = {hw: np.zeros((*hw, 3), np.uint8) for hw in set(self._hw)}

    def batch(self, index: int) -> tuple[list, np.ndarray, list]:
        """(Frames, per-image counts, letterboxes) of batch ``index``, its rows copied into host_rows."""
        from jetsentry.capture.frame import Frame

        frames, counts, boxes, parts = [], np.empty(CAMERAS, np.int32), [], []
        for camera in range(CAMERAS):
            clip_frame = (index + camera * CAMERA_OFFSET) % self.frames
            rows = self._rows[clip_frame]
            self.host_rows[camera, : len(rows)] = rows
            parts.append(np.column_stack((np.full(len(rows), camera, np.float32), rows)))
            counts[camera] = len(rows)
            boxes.append(self._letterbox[clip_frame])
            picture = self._pictures[self._hw[clip_frame]]  # shared: only its size is read
            frames.append(Frame(f"cam{camera:02d}", index, picture, 1.7e9 + index / 30.0, time.monotonic()))
        if self.batch_rows:  # the kernel leaves them in any order: reversed here, to be put back
            self.kernel_rows = np.concatenate(parts)[::-1].copy()
        return frames, counts, boxes

    def candidates(self, counts: np.ndarray) -> list:
        from jetsentry.infer.head_kernel_types import candidates_from_rows

        if self.batch_rows:
            return candidates_from_rows(self.kernel_rows, CAMERAS)
        return candidates_from_rows(self.host_rows, counts)


def _processor(model: Path):
    from jetsentry.config.models import TrackerConfig
    from jetsentry.infer import Detector
    from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
    from jetsentry.pipeline import FrameProcessor

    detector = Detector(OnnxRuntimeEngine(model, threads=1))
    return detector, FrameProcessor(detector, device_id="bench", tracker=TrackerConfig())


def run_round(model: Path, replay: Replay, batches: int, profile: cProfile.Profile | None = None) -> dict:
    """Every step over ``batches`` batches with fresh trackers; thread CPU seconds per step."""
    from jetsentry.infer.detector import StageTimes
    from jetsentry.infer.postprocess import PostprocessSettings, postprocess_candidates
    from jetsentry.pipeline import InferredBatch

    settings = PostprocessSettings(confidence=LOW_THRESHOLD, iou=0.7, max_detections=300)
    detector, processor = _processor(model)
    cpu = {"candidates": 0.0, "nms": 0.0, "finish": 0.0}
    counts = {"frames": 0, "published": 0, "message_bytes": 0}
    digest = hashlib.sha256()
    tracking_ms = 0.0  # the trackers' share of finish, from the frames' latency_ms (wall time)
    clock = time.thread_time
    try:
        for index in range(batches):
            frames, found, boxes = replay.batch(index)
            if profile is not None:
                profile.enable()
            t0 = clock()
            candidates = replay.candidates(found)
            t1 = clock()
            detections = postprocess_candidates(candidates, boxes, settings)
            t2 = clock()
            results = processor.finish(InferredBatch(frames, time.monotonic(), detections, StageTimes(0.1, 1.0, 0.1)))
            t3 = clock()
            if profile is not None:
                profile.disable()
            cpu["candidates"] += t1 - t0
            cpu["nms"] += t2 - t1
            cpu["finish"] += t3 - t2
            counts["frames"] += len(results)
            counts["published"] += sum(len(r.detections) for r in results)
            counts["message_bytes"] += sum(len(r.payload) for r in results)
            # The frames of one tracking pass carry the pass's time, a frame tracked alone its own:
            # each distinct value once.
            tracking_ms += sum({r.latency_ms["tracking"] for r in results})
            for result in results:
                digest.update(_CLOCKS.sub(b"", result.payload))
                digest.update(result.detections.track_ids.tobytes())
    finally:
        detector.close()
    return {"cpu_us_per_frame": {k: v / counts["frames"] * 1e6 for k, v in cpu.items()}, **counts,
            "tracking_us_per_frame": tracking_ms / counts["frames"] * 1e3,
            "output_sha256": digest.hexdigest()}


def _round_in_process(daemon_dir: Path, args) -> dict:
    """One round in a fresh interpreter importing jetsentry from ``daemon_dir``."""
    command = [PYTHON, __file__, "--one-round", "--batches", str(args.batches), "--frames", str(args.frames),
               "--model", str(args.model_path), "--clip", str(args.clip_path), "--no-wait"]
    env = {**os.environ, "PYTHONPATH": str(daemon_dir)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"a round with {daemon_dir} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _profile_lines(profile: cProfile.Profile, top: int = 25) -> list[str]:
    stats = pstats.Stats(profile)
    stats.sort_stats("tottime")
    total = stats.total_tt
    lines = []
    for (file, line, name), (_, calls, tottime, cumtime, _) in sorted(
            stats.stats.items(), key=lambda item: -item[1][2])[:top]:
        where = f"{Path(file).parent.name}/{Path(file).name}:{line}" if file != "~" else "builtin"
        lines.append(f"{tottime / total * 100:5.1f} % self {cumtime / total * 100:5.1f} % cum {calls:8d} calls  "
                     f"{where} {name}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "finish_cost_16cam")
    parser.add_argument("--frames", type=int, default=300, help="clip frames to record detections for")
    parser.add_argument("--batches", type=int, default=400, help="batches of 16 frames per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of one round")
    parser.add_argument("--compare", type=Path, help="daemon/ folder of the code to compare with, round by round")
    parser.add_argument("--one-round", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    model, clip = chosen_model(args), chosen_clip(args)
    args.model_path, args.clip_path = model, clip
    replay = Replay(recorded_candidates(model, clip, args.frames))
    if args.one_round:
        print(json.dumps(run_round(model, replay, args.batches)))
        return
    if not args.no_wait:
        wait_for_quiet()
    if args.compare is not None:
        compare(args, replay)
        return
    rounds = []
    with CpuMonitor() as monitor:
        for _ in range(args.rounds):
            rounds.append(run_round(model, replay, args.batches))
    steps = {step: stats_ms(r["cpu_us_per_frame"][step] for r in rounds) for step in rounds[0]["cpu_us_per_frame"]}
    steps["tracking_inside_finish_wall"] = stats_ms(r["tracking_us_per_frame"] for r in rounds)
    first = rounds[0]
    per_frame = {k: round(first[k] / first["frames"], 3) for k in ("published", "message_bytes")}
    candidates = replay.counts
    summary = ", ".join(f"{step} {s['p50']:.1f}" for step, s in steps.items())
    print(f"bench_finish_cost, {CAMERAS} cameras, {args.rounds} rounds of {args.batches} batches: CPU us per frame "
          f"(median of rounds) {summary}; {candidates.mean():.1f} candidates and {per_frame['published']} published "
          f"detections per frame, {per_frame['message_bytes']:.0f}-byte messages; other processes "
          f"{monitor.record['foreign_cores']:.2f} cores", flush=True)
    result = {"cameras": CAMERAS, "batches": args.batches, "rounds": args.rounds, "clip_frames": replay.frames,
              "candidates_per_frame": round(float(candidates.mean()), 2), "per_frame": per_frame,
              "cpu_us_per_frame": steps}
    if args.profile:
        profile = cProfile.Profile()
        run_round(model, replay, args.batches, profile)
        lines = _profile_lines(profile)
        print("\n".join(lines))
        result["profile_top"] = lines
    write_result(args.name, result, load=monitor.record)


def compare(args, replay: Replay) -> None:
    """Rounds alternating between ``args.compare`` (before) and this checkout (after), in
    fresh processes; per-step ratios after / before of the medians, and the outputs compared."""
    sides = {"before": args.compare.resolve(), "after": REPO / "daemon"}
    rounds: dict[str, list[dict]] = {"before": [], "after": []}
    with CpuMonitor() as monitor:
        for index in range(args.rounds):
            order = ("before", "after") if index % 2 == 0 else ("after", "before")
            for side in order:
                rounds[side].append(_round_in_process(sides[side], args))
    steps = list(rounds["after"][0]["cpu_us_per_frame"])
    result = {"cameras": CAMERAS, "batches": args.batches, "rounds": args.rounds, "before": str(args.compare),
              "candidates_per_frame": round(float(replay.counts.mean()), 2)}
    for side, side_rounds in rounds.items():
        result[side] = {step: stats_ms(r["cpu_us_per_frame"][step] for r in side_rounds) for step in steps}
        result[side]["tracking_inside_finish_wall"] = stats_ms(r["tracking_us_per_frame"] for r in side_rounds)
        result[side]["total"] = stats_ms(sum(r["cpu_us_per_frame"].values()) for r in side_rounds)
    result["ratio_after_before"] = {step: round(result["after"][step]["p50"] / result["before"][step]["p50"], 3)
                                    for step in [*steps, "total"]}
    digests = {r["output_sha256"] for side_rounds in rounds.values() for r in side_rounds}
    result["outputs_identical"] = len(digests) == 1
    first = rounds["after"][0]
    result["per_frame"] = {k: round(first[k] / first["frames"], 3) for k in ("published", "message_bytes")}
    for step in [*steps, "total"]:
        print(f"{step:10s} before {result['before'][step]['p50']:.1f} us  after {result['after'][step]['p50']:.1f} us"
              f"  ratio {result['ratio_after_before'][step]:.3f}")
    print(f"of finish, tracking (wall): before {result['before']['tracking_inside_finish_wall']['p50']:.1f} us, after "
          f"{result['after']['tracking_inside_finish_wall']['p50']:.1f} us")
    print(f"outputs identical: {result['outputs_identical']}; other processes {monitor.record['foreign_cores']:.2f} "
          f"cores", flush=True)
    write_result(args.name, result, load=monitor.record)


if __name__ == "__main__":
    main()
