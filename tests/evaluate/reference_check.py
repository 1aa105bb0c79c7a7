"""Our ByteTrack against Ultralytics' BYTETracker on the same pipeline detections (issue 3, item 4).

Both trackers get what the daemon's tracker gets: each scene's detections above the
tracker's low_threshold (the daemon's NMS threshold while tracking), with the same
TrackerConfig and the rate the evaluation's tracker ran at.  Of each one's output, the
tracked detections above the daemon's confidence (what it publishes) are scored by the
evaluation's TrackEval metrics (same ignore rules).  Run on a whole scene set:

    .venv/bin/python -m tests.evaluate.reference_check --model engines/models/jetsentry-default.onnx --scenes DIR
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from jetsentry.config.models import ModelConfig, TrackerConfig
from jetsentry.evaluate.runner import SceneRun, SceneRunner
from jetsentry.evaluate.scenes import load_scenes
from jetsentry.evaluate.tracking_metrics import TrackingEvaluator
from jetsentry.pipeline import tracker_input, tracker_parameters
from tests.track.reference import run_jetsentry_bytetrack, run_reference_bytetrack

DAEMON_CONFIDENCE = 0.25


def compare_trackers(runs: Sequence[SceneRun], config: TrackerConfig | None = None,
                     confidence: float = DAEMON_CONFIDENCE) -> dict:
    """{"jetsentry": {scene: scores, ..., "overall": scores}, "reference": {...}}, scores as dicts."""
    # The thresholds the pipeline's tracker runs with at this confidence.
    config = TrackerConfig(**tracker_parameters(config or TrackerConfig(), confidence))
    evaluators = {"jetsentry": TrackingEvaluator(), "reference": TrackingEvaluator()}
    out: dict = {name: {} for name in evaluators}
    for run in runs:
        fed = [tracker_input(d, config) for d in run.detections]
        outputs = {"jetsentry": run_jetsentry_bytetrack(fed, run.frame_rate, config),
                   "reference": run_reference_bytetrack(fed, run.frame_rate, config)}
        for name, tracked in outputs.items():
            tracked = [t.select(t.scores > confidence) for t in tracked]
            out[name][run.scene.name] = evaluators[name].add_sequence(run.scene.name, run.scene.gt, tracked).as_dict()
    for name, evaluator in evaluators.items():
        out[name]["overall"] = evaluator.scores().as_dict()
    return out


def scene_runs(argv: list[str] | None, description: str) -> list[SceneRun]:
    """Every scene of --scenes through the evaluation's pipeline pass with --model (defaults elsewhere)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--scenes", type=Path, required=True)
    args = p.parse_args(argv)
    runner = SceneRunner(ModelConfig(path=args.model, confidence=0.001), TrackerConfig(),
                         track_confidence=DAEMON_CONFIDENCE)
    return [runner.run(scene) for scene in load_scenes(args.scenes)]


def main(argv: list[str] | None = None) -> int:
    result = compare_trackers(scene_runs(argv, __doc__.splitlines()[0]))
    print(f"{'scene':<12} {'MOTA ours':>9} {'MOTA ref':>9} {'IDF1 ours':>9} {'IDF1 ref':>9} {'IDsw ours':>9} {'IDsw ref':>9}")
    for scene in result["jetsentry"]:
        a, b = result["jetsentry"][scene], result["reference"][scene]
        print(f"{scene:<12} {a['mota']:>9.4f} {b['mota']:>9.4f} {a['idf1']:>9.4f} {b['idf1']:>9.4f} "
              f"{a['id_switches']:>9} {b['id_switches']:>9}")
    print(json.dumps({name: {"mota": r["overall"]["mota"], "idf1": r["overall"]["idf1"], "hota": r["overall"]["hota"]}
                      for name, r in result.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
