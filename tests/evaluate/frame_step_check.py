"""Tracking a camera of which the pipeline processes only every k-th frame (item 4 of issue 8).

An uncapped live camera delivers 30 frames/s, of which the pipeline may process 4-15.
This emulates it on scene folders: every k-th frame's detections (the detector keeps no
state between frames, so this equals processing only those frames) go to

* the tracker at a fixed assumed 30 frames/s, as the frame path ran an uncapped camera
  before it measured the rate (lost tracks kept 30 processed frames, 30 k / fps s), and
* the frame path's own tracking (`pipeline.camera_tracker`), which measures the processed
  rate from the frames' timestamps (lost tracks kept track_buffer / 30 s = 1 s),

both fed and cut as in the daemon, scored against the ground truth of the same frames:

    .venv/bin/python -m tests.evaluate.frame_step_check --model engines/models/jetsentry-default.onnx --scenes DIR
"""

from __future__ import annotations

import json

from jetsentry.config.models import TrackerConfig
from jetsentry.evaluate.runner import SceneRun, track_detections
from jetsentry.evaluate.tracking_metrics import TrackingEvaluator
from jetsentry.pipeline import DEFAULT_FRAME_RATE, tracker_input
from jetsentry.synth.groundtruth import GroundTruth
from tests.evaluate.reference_check import DAEMON_CONFIDENCE, scene_runs
from tests.track.reference import run_jetsentry_bytetrack

STEPS = (1, 2, 3, 5)


def every_kth_gt(gt: GroundTruth, step: int) -> GroundTruth:
    """The ground truth of frames 1, 1 + step, 1 + 2 step, ..., renumbered 1, 2, 3, ..."""
    kept = (gt.frame - 1) % step == 0
    return GroundTruth(frame=(gt.frame[kept] - 1) // step + 1, track_id=gt.track_id[kept], boxes=gt.boxes[kept],
                       consider=gt.consider[kept], class_id=gt.class_id[kept], visibility=gt.visibility[kept])


def compare_rates(runs: list[SceneRun], steps=STEPS, config: TrackerConfig | None = None) -> dict:
    """{step: {"assumed_30": scores, "measured": scores, "measured_fps": [...]}}, scores as dicts."""
    config = config or TrackerConfig()
    out = {}
    for step in steps:
        evaluators = {"assumed_30": TrackingEvaluator(), "measured": TrackingEvaluator()}
        rates = []
        for run in runs:
            detections, timestamps = run.detections[::step], run.timestamps[::step]
            gt = every_kth_gt(run.scene.gt, step)
            fixed = run_jetsentry_bytetrack([tracker_input(d, config) for d in detections], DEFAULT_FRAME_RATE, config)
            evaluators["assumed_30"].add_sequence(run.scene.name, gt,
                                                  [t.select(t.scores > DAEMON_CONFIDENCE) for t in fixed])
            measured, rate = track_detections(detections, timestamps, config, confidence=DAEMON_CONFIDENCE)
            evaluators["measured"].add_sequence(run.scene.name, gt, measured)
            rates.append(rate)
        out[step] = {name: e.scores().as_dict() for name, e in evaluators.items()}
        out[step]["measured_fps"] = sorted(set(rates))
    return out


def main(argv: list[str] | None = None) -> int:
    result = compare_rates(scene_runs(argv, __doc__.splitlines()[0]))
    print(f"{'step':>4} {'fps':>6} {'tracker':<11} {'MOTA':>7} {'IDF1':>7} {'HOTA':>7} {'IDsw':>5} {'FP':>5} {'FN':>5}")
    for step, r in result.items():
        for name in ("assumed_30", "measured"):
            s = r[name]
            fps = "/".join(f"{f:g}" for f in r["measured_fps"])
            print(f"{step:>4} {fps:>6} {name:<11} {s['mota']:>7.4f} {s['idf1']:>7.4f} {s['hota']:>7.4f} "
                  f"{s['id_switches']:>5} {s['fp']:>5} {s['fn']:>5}")
    print(json.dumps({step: {name: {k: r[name][k] for k in ("mota", "idf1", "hota")} for name in ("assumed_30", "measured")}
                      for step, r in result.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
