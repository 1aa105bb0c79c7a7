"""Raw-engine runs interleaved with an end-to-end process that is frozen meanwhile.

This host's speed jumps between two levels (plain ONNX Runtime: about 14.5 and 19.5
frames/s), each lasting seconds to minutes (bench_host_drift.py), so an end-to-end number
and a raw number taken at different times cannot be compared, nor can two short spans.
The end-to-end process (the daemon, `jetsentry analyze`) is stopped with SIGSTOP, which
takes it off the CPU entirely, while the raw engine runs; then it continues (SIGCONT),
settles, and is measured over a window of about the same length; and so on.  Both sides
thus sample the host's changing speed alike, and the result is the ratio of the two
pooled rates: all frames of the windows over their total time, against all raw frames
over their total time.  Per-window ratios (against the mean of the raw runs just before
and after) are reported to show the spread.
"""

from __future__ import annotations

import contextlib
import os
import signal

import numpy as np

from bench_engine import TARGET_RATIO

BURST_GAP_S = 0.010  # messages of one batch are finished within about a millisecond of each other


@contextlib.contextmanager
def frozen(pid: int):
    """The process stopped with SIGSTOP (no CPU at all) for the duration, then continued."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def burst_rate(times: list[float]) -> float:
    """Frames/s from completion times: frames after the first burst / first-to-last burst time
    (exact for batches that finish together, however the window cuts them)."""
    times = sorted(times)
    if len(times) < 2:
        return 0.0
    first_burst = 1
    while first_burst < len(times) and times[first_burst] - times[first_burst - 1] < BURST_GAP_S:
        first_burst += 1
    span = times[-1] - times[0]
    return (len(times) - first_burst) / span if span > 0 else 0.0


def add_window_arguments(parser, *, warmup_s: float, window_s: float, raw_frames: int, unit: str) -> None:
    """--warmup, --window, --windows and --raw-frames, shared by the interleaved benchmarks."""
    parser.add_argument("--warmup", type=float, default=warmup_s, help=f"seconds after the first {unit}, not counted")
    parser.add_argument("--window", type=float, default=window_s, help="seconds counted per window")
    parser.add_argument("--windows", type=int, default=6, help="windows, each between two raw engine runs")
    parser.add_argument("--raw-frames", type=int, default=raw_frames,
                        help="frames timed per raw run, for each of plain ONNX Runtime and jetsentry's engine")


def judge_windows(windows: list[dict], raws: list[dict]) -> dict:
    """Adds raw_fps_around and ratio to each window (window i lies between raws i and i+1) and
    returns the result fields: the pooled ratio, the target verdict, every window and raw run."""
    for window, before, after in zip(windows, raws, raws[1:]):
        window["raw_fps_around"] = round((before["fps"] + after["fps"]) / 2, 2)
        window["ratio"] = round(window["fps"] / window["raw_fps_around"], 3)
    # Windows last equally long: their pooled rate is the mean.  Raw runs time equally many
    # frames: theirs is the harmonic mean.  The target is against raw ONNX Runtime (a plain
    # session, default options, the pipeline's input shape and batch); the ratio against
    # jetsentry's own engine alone is the share the rest of the pipeline leaves it.
    fps = float(np.mean([w["fps"] for w in windows]))
    pooled = {key: float(len(raws) / np.sum([1.0 / r[key] for r in raws])) for key in ("fps", "engine_fps")
              if all(key in r for r in raws)}
    ratio = round(fps / pooled["fps"], 3)
    # When the measured process is less sensitive to the host's slow level than plain ONNX
    # Runtime (frames side by side), a pooled raw rate that caught the slow level flatters the
    # ratio; the ratio against the fastest single raw run bounds it from below.
    ratio_fastest = round(fps / max(r["fps"] for r in raws), 3)
    return {
        "fps_median_run": round(fps, 2),
        "raw_fps_median_run": round(pooled["fps"], 2),
        "raw_reference": "plain ONNX Runtime",
        "raw_pooled": {key: round(value, 2) for key, value in pooled.items()},
        "ratio_to_raw_ort": ratio,
        "ratio_to_fastest_raw_ort": ratio_fastest,
        **({"ratio_to_engine": round(fps / pooled["engine_fps"], 3)} if "engine_fps" in pooled else {}),
        "ratios": [w["ratio"] for w in windows],
        "fps_runs": [w["fps"] for w in windows],
        "raw_fps_runs": [r["fps"] for r in raws],
        "engine_fps_runs": [r.get("engine_fps") for r in raws],
        "target_ratio": TARGET_RATIO,
        "target_met": ratio >= TARGET_RATIO,
        "runs": windows,
        "loads": {"raw": [r["load"] for r in raws], "runs": [w["load"] for w in windows]},
    }


def verdict_line(label: str, fields: dict, shape: str) -> str:
    ratio = fields["ratio_to_raw_ort"]
    spread = f"{min(fields['ratios']):.3f}-{max(fields['ratios']):.3f}"
    pooled = ", ".join(f"{k} {v:.2f}" for k, v in fields["raw_pooled"].items())
    own = f"; {fields['ratio_to_engine']:.3f} x jetsentry's engine alone" if "ratio_to_engine" in fields else ""
    return (f"{label}: {fields['fps_median_run']:.2f} frames/s = {ratio:.3f} x raw ONNX Runtime "
            f"{fields['raw_fps_median_run']:.2f} frames/s{own} (raw pooled: {pooled}), "
            f"input {shape} (pooled over {len(fields['runs'])} windows "
            f"and {len(fields['raw_fps_runs'])} raw runs; per window {spread}; "
            f"{fields['ratio_to_fastest_raw_ort']:.3f} x the fastest raw run; "
            f"target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})")
