"""Markdown tables from bench/results/*.json, for docs/PERFORMANCE.md.

    python bench/report.py [NAME ...]     (default: every result file, sorted)

One table per result: the headline numbers, the exact command, the date, the git
commit and the load while it ran.  The analysis in docs/PERFORMANCE.md is written
by hand around these tables.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from common import load_sections

RESULTS = Path(__file__).resolve().parent / "results"


def _num(value: float) -> str:
    return f"{value:.3f}" if abs(value) < 1 else f"{value:.1f}"


def _ms(stats: dict) -> str:
    return f"p50 {_num(stats['p50'])} ms, p99 {_num(stats['p99'])} ms (mean {_num(stats['mean'])}, n {stats['n']})"


def _load_text(load: object) -> str:
    """Load average before and foreign cores (max over the timed sections)."""
    sections = load_sections(load)
    if not sections:
        return "-"
    load1 = [s["loadavg_before"][0] for s in sections]
    foreign = [s["foreign_cores"] for s in sections if s["foreign_cores"] is not None]
    return (f"1-min load average before: {min(load1):.2f}-{max(load1):.2f}; other processes used at most "
            f"{max(foreign):.2f} cores during the timed sections")


def _engine(result: dict) -> list[tuple[str, str]]:
    rows = []
    for batch, data in result["batches"].items():
        parts = [f"{name} **{v['fps']:.2f}** frames/s ({v['ms_per_batch']['p50']:.1f} ms per batch p50)"
                 for name, v in data.items() if isinstance(v, dict)]
        rows.append((f"{batch}, input {data['input']}", "; ".join(parts)))
    return rows


def _ratio_rows(result: dict, what: str) -> list[tuple[str, str]]:
    if "target_met" in result:
        label, verdict = "ratio (target >= 0.95)", ": met" if result["target_met"] else ": **not met**"
    else:
        label, verdict = "ratio", ""
    if "raw_pooled" in result:  # interleaved windows (bench/interleave.py)
        fastest = result["fps_median_run"] / max(result["raw_fps_runs"])
        pooled = ", ".join(f"{RAW_NAMES[k]} {v:.2f}" for k, v in result["raw_pooled"].items())
        return [
            (f"{what} frames/s (pooled over {len(result['runs'])} windows)", f"**{result['fps_median_run']:.2f}**"),
            ("raw frames/s (pooled over the runs between the windows)", f"{pooled} (input {result['input']})"),
            (f"{label}, against raw ONNX Runtime",
             f"**{result['ratio_to_raw_ort']:.3f}**{verdict}; per window: "
             + ", ".join(f"{r:.3f}" for r in result["ratios"])),
            ("ratio against the fastest single raw ONNX Runtime run (a lower bound when the process is "
             "less sensitive to the host's slow level than plain ONNX Runtime)",
             f"{fastest:.3f}"),
            ("ratio against jetsentry's engine alone (what the rest of the pipeline leaves it)",
             f"{result['fps_median_run'] / result['raw_pooled']['engine_fps']:.3f}"),
            (f"{what} windows (frames/s)", ", ".join(f"{v:.2f}" for v in result["fps_runs"])),
            ("raw runs (frames/s): plain ONNX Runtime", ", ".join(f"{v:.2f}" for v in result["raw_fps_runs"])),
            ("raw runs (frames/s): jetsentry engine", ", ".join(f"{v:.2f}" for v in result["engine_fps_runs"])),
        ]
    return [
        (f"{what} frames/s (median-ratio run)", f"**{result['fps_median_run']:.2f}**"),
        ("raw ONNX Runtime frames/s around it", f"{result['raw_fps_median_run']:.2f} (input {result['input']})"),
        (label, f"**{result['ratio_to_raw_ort']:.3f}**{verdict}; all runs: "
         + ", ".join(f"{r:.3f}" for r in result["ratios"])),
        (f"{what} runs (frames/s)", ", ".join(f"{v:.2f}" for v in result["fps_runs"])),
        ("raw runs (frames/s)", ", ".join(f"{v:.2f}" for v in result["raw_fps_runs"])),
    ]


RAW_NAMES = {"fps": "plain ONNX Runtime", "engine_fps": "jetsentry engine"}


def _median_run(result: dict) -> dict:
    return min(result["runs"], key=lambda run: abs(run["ratio"] - result["ratio_to_raw_ort"]))


def _analyze(result: dict) -> list[tuple[str, str]]:
    mean_ms = result["summary"]["mean_ms"]
    return _ratio_rows(result, "analyze") + [
        ("whole run: mean ms per frame (freezes included)", ", ".join(f"{k} {v:.2f}" for k, v in mean_ms.items())),
        ("whole run: CPU-s by thread", ", ".join(f"{k} {v:.1f}" for k, v in result["thread_cpu_s"].items())),
        ("analyze command", f"`{result['command']}`"),
    ]


def _daemon(result: dict) -> list[tuple[str, str]]:
    median = _median_run(result)
    latency = median["latency_ms"]
    realtime = result.get("realtime", True)
    return [
        ("setup", f"{result['cameras']} file cameras ({result['clip']}) x {result['camera_fps']} fps"
                  + (f" (fps_cap {result['fps_cap']:g})" if result.get("fps_cap") else "")
                  + ("" if realtime else ", realtime: false (recordings: every frame)")
                  + f", max_batch {result['max_batch']}, "
                  f"windows of {median['window_s']:.0f} s after {result['warmup_s']:.0f} s warm-up"),
        *_ratio_rows(result, "daemon aggregate"),
        ("messages per camera (median window)", ", ".join(f"{k} {v}" for k, v in median["per_camera"].items())),
        ("latency_ms mean (median window)", ", ".join(f"{k} {v['mean']:.1f}" for k, v in latency.items())),
        ("CPU-s by thread (median window)", ", ".join(f"{k} {v:.1f}" for k, v in median["thread_cpu_s"].items())
         + f"; mosquitto {median['mosquitto_cpu_s']:.1f}"),
        ("daemon command", f"`{result['daemon_command']}` (config generated by bench/daemon_run.py)"),
    ]


def _ultralytics(result: dict) -> list[tuple[str, str]]:
    median = _median_run(result)
    return _ratio_rows(result, "Ultralytics track") + [
        ("after the first frame", ", ".join(str(run["fps_after_first"]) for run in result["runs"])),
        ("mean ms per frame (that run)", ", ".join(f"{k} {v:.2f}" for k, v in median["mean_ms"].items())),
        ("tracker / version", f"{result['tracker']} / ultralytics {result['ultralytics']}"),
    ]


def _latency(result: dict) -> list[tuple[str, str]]:
    rows = [
        ("camera", f"{result['source']}: {result['camera']}"
                   + (f", rtsp latency_ms {result['rtsp_latency_ms']}" if result.get("rtsp_latency_ms") else "")),
        ("capture-to-publish", f"**{_ms(result['end_to_end_ms'])}**"),
        ("processed", f"{result['processed_fps']:.2f} frames/s; {result['frames_skipped']} camera frames replaced "
                      "in the slot before inference took them"),
        ("before hand-over (network, decode, copy)", _ms(result["before_handover_ms"])),
        ("publish (MQTT to subscriber)", _ms(result["publish_ms"])),
    ]
    rows += [(f"latency_ms.{k}", _ms(v)) for k, v in result["latency_ms"].items()]
    return rows + [("daemon command", f"`{result['daemon_command']}`")]


def _frame_cost(result: dict) -> list[tuple[str, str]]:
    met = "met" if result["target_met"] else "**not met**"
    return [
        ("decode + NMS (bench_postprocess.py)", f"p50 {result['postprocess_ms']['p50']:.3f} ms, "
                                                f"p90 {result['postprocess_ms']['p90']:.3f} ms"),
        ("tracking (bench_tracking.py)", f"p50 {result['tracking_ms']['p50']:.3f} ms, "
                                         f"p90 {result['tracking_ms']['p90']:.3f} ms"),
        ("sum (target <= 2 ms)", f"**{result['total_ms_p50']:.3f} ms** p50, "
                                 f"{result['total_ms_p90']:.3f} ms p90: {met}"),
        *([("JSON message, 50 tracked detections (not in the target)", _ms(result["message_ms"]))]
          if "message_ms" in result else []),
    ]


def _decode(result: dict) -> list[tuple[str, str]]:
    rows = [(f"run {i + 1}", f"{run['fps']:.0f} frames/s; {run['cpu_ms_per_frame_total']:.2f} CPU-ms per frame: "
             + ", ".join(f"{k} {v:.2f}" for k, v in run["cpu_ms_per_frame"].items())
             + (f" (of main: BGR conversion {run['bgr_conversion_ms_per_frame']:.2f})"
                if "bgr_conversion_ms_per_frame" in run else ""))
            for i, run in enumerate(result["runs"])]
    return rows + [("letterbox 1080p -> 640 (one thread)", _ms(result["letterbox_ms"]))]


def _memory(result: dict) -> list[tuple[str, str]]:
    met = "met" if result["target_met"] else "**not met**"
    return [
        ("setup", f"{result['cameras']} cameras, {result['warmup_minutes']:g} min warm-up + {result['minutes']:g} min "
                  f"measured, VmRSS every {result['interval_s']:g} s; {result['fps']:.2f} frames/s processed"),
        ("RSS first measured minute (median)", f"{result['rss_first_minute_mib']:.1f} MiB"),
        ("RSS last measured minute (median)", f"{result['rss_last_minute_mib']:.1f} MiB"),
        ("growth (target <= 2 %)", f"**{result['growth'] * 100:+.2f} %**: {met}; linear trend "
                                   f"{result['slope_kib_per_min']:+.0f} KiB/min; "
                                   f"peak (VmHWM) {result['peak_rss_mib']:.1f} MiB"),
        ("RSS at the end (MiB)", ", ".join(f"{k} {v:.1f}" for k, v in result.get("rss_at_end_mib", {}).items())),
        ("daemon command", f"`{result['daemon_command']}`"),
    ]


def _host_drift(result: dict) -> list[tuple[str, str]]:
    return [
        ("one plain ONNX Runtime session", f"{len(result['fps_spans'])} consecutive spans of "
                                          f"{result['frames_per_span']} frames"),
        ("frames/s per span", f"**{result['fps_min']:.2f}-{result['fps_max']:.2f}** "
                              f"(median {result['fps_median']:.2f}): " + ", ".join(f"{v:.2f}" for v in result["fps_spans"])),
    ]


RENDERERS: dict[str, Callable[[dict], list[tuple[str, str]]]] = {
    "engine": _engine, "analyze": _analyze, "daemon": _daemon, "ultralytics": _ultralytics,
    "latency": _latency, "frame_cost": _frame_cost, "decode": _decode, "memory": _memory,
    "host_drift": _host_drift,
}


def render(path: Path) -> str:
    record = json.loads(path.read_text())
    kind = next((k for k in RENDERERS if record["bench"].removeprefix("exp_").startswith(k)), None)
    rows = RENDERERS[kind](record["result"]) if kind else [("result", "`" + json.dumps(record["result"])[:200] + "`")]
    machine = record["machine"]
    rows += [
        ("command", f"`{record['command']}`"),
        ("date", record["date"].replace("T", " ").replace("+00:00", " UTC")),
        ("commit", f"{machine['commit']} (jetsentry from {machine.get('jetsentry_from')})"),
        ("load", _load_text(record["load"])),
    ]
    if record.get("note"):
        rows.append(("note", record["note"]))
    if record.get("disturbed"):
        rows.append(("**disturbed**", "other processes used the cores during a timed section: not a clean result"))
    lines = [f"`bench/results/{path.name}`", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="result names (file stems); default all")
    args = parser.parse_args()
    paths = [RESULTS / f"{name}.json" for name in args.names] if args.names else sorted(RESULTS.glob("*.json"))
    print("\n".join(render(path) for path in paths))


if __name__ == "__main__":
    main()
