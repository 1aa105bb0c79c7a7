"""The evaluation's results as one dictionary (the JSON line) and as tables for people."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jetsentry.evaluate.detection_metrics import CocoDetectionEvaluator
from jetsentry.evaluate.runner import SceneRun
from jetsentry.evaluate.tracking_metrics import TrackingEvaluator
from jetsentry.synth.stats import combine_statistics, format_statistics

HEADLINE_KEYS = ("map50", "map50_95", "mota", "idf1", "hota")


def summarize(runs: Sequence[SceneRun], detection: CocoDetectionEvaluator, tracking: TrackingEvaluator,
              settings: Mapping) -> dict:
    """Overall and per-scene numbers; the five headline keys come first."""
    det = detection.scores()
    trk = tracking.scores()
    frames = sum(r.frames for r in runs)
    seconds = sum(r.seconds for r in runs)
    per_scene = {}
    for run in runs:
        name = run.scene.name
        scene_det = detection.scores([name])
        scene_trk = tracking.scores([name])
        per_scene[name] = {
            "map50": scene_det.map50, "map50_95": scene_det.map50_95,
            "mota": scene_trk.mota, "idf1": scene_trk.idf1, "hota": scene_trk.hota,
            "frames": run.frames, "ground_truth": scene_det.ground_truth, "ignored": scene_det.ignored,
            "id_switches": scene_trk.details["id_switches"], "fp": scene_trk.details["fp"],
            "fn": scene_trk.details["fn"], "frames_per_second": run.frames / run.seconds if run.seconds else None,
            "statistics": run.scene.statistics,
        }
    return {
        "map50": det.map50, "map50_95": det.map50_95, "mota": trk.mota, "idf1": trk.idf1, "hota": trk.hota,
        "scenes": len(runs),
        "frames": frames,
        "frames_per_second": frames / seconds if seconds else None,
        "detection": {k: v for k, v in det.as_dict().items() if k not in HEADLINE_KEYS},
        "tracking": {k: v for k, v in trk.as_dict().items() if k not in HEADLINE_KEYS},
        "statistics": combine_statistics(r.scene.statistics for r in runs),
        "per_scene": per_scene,
        "settings": dict(settings),
    }


def _num(value: float | None, width: int, digits: int = 3) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"


def format_tables(summary: Mapping) -> str:
    """Per-scene and overall metrics, per-class AP and the scene statistics, as text."""
    name_width = max([len("overall")] + [len(n) for n in summary["per_scene"]])
    header = (f"{'scene':<{name_width}} {'frames':>6} {'gt':>6} {'ignored':>7} {'mAP50':>6} {'mAP50-95':>8} "
              f"{'MOTA':>6} {'IDF1':>6} {'HOTA':>6} {'IDsw':>5} {'FP':>5} {'FN':>5} {'frames/s':>8}")
    lines = [header, "-" * len(header)]
    rows = list(summary["per_scene"].items())
    tracking, detection = summary["tracking"], summary["detection"]
    overall = {**{k: summary[k] for k in HEADLINE_KEYS}, "frames": summary["frames"],
               "ground_truth": detection["ground_truth"], "ignored": detection["ignored"],
               "id_switches": tracking["id_switches"], "fp": tracking["fp"], "fn": tracking["fn"],
               "frames_per_second": summary["frames_per_second"]}
    for name, s in rows + [("overall", overall)]:
        if name == "overall":
            lines.append("-" * len(header))
        lines.append(
            f"{name:<{name_width}} {s['frames']:>6} {s['ground_truth']:>6} {s['ignored']:>7} "
            f"{_num(s['map50'], 6)} {_num(s['map50_95'], 8)} {_num(s['mota'], 6)} {_num(s['idf1'], 6)} "
            f"{_num(s['hota'], 6)} {s['id_switches']:>5} {s['fp']:>5} {s['fn']:>5} "
            f"{_num(s['frames_per_second'], 8, 1)}")
    lines += ["", f"{'class':<10} {'gt':>6} {'AP50':>6} {'AP50-95':>7}"]
    for name, c in detection["per_class"].items():
        lines.append(f"{name:<10} {c['gt']:>6} {_num(c['ap50'], 6)} {_num(c['ap50_95'], 7)}")
    lines += ["", "scene statistics:"]
    for name, s in rows:
        lines.append(f"  {name}: {format_statistics(s['statistics'])}")
    lines.append(f"  total: {format_statistics(summary['statistics'])}")
    t = tracking
    lines += ["", f"tracking: DetA {t['deta']:.3f}  AssA {t['assa']:.3f}  IDP {t['idp']:.3f}  IDR {t['idr']:.3f}  "
              f"MOTP {t['motp']:.3f}  mostly tracked {t['mostly_tracked']}  mostly lost {t['mostly_lost']}  "
              f"fragmentations {t['fragmentations']}"]
    return "\n".join(lines)
