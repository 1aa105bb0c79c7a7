"""The summary table of docs/PERFORMANCE.md from bench/results/*.json.

    python bench/report.py [NAME ...]     (default: every result file)

One row per result: what was measured, the headline figure, the command that reproduces
it, and the date and commit it was measured at.  A result marked disturbed (other
processes used the cores meanwhile) says so.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _verdict(result: dict) -> str:
    return "met" if result["target_met"] else "**not met**"


def _engine(r: dict) -> tuple[str, str]:
    parts = []
    for batch, data in r["batches"].items():
        runners = ", ".join(f"{name} {data[name]['fps']:.2f}" for name in ("ort", "engine_serial", "engine"))
        parts.append(f"{batch.replace('batch', 'batch ')} ({data['input']}): {runners} frames/s")
    return f"raw engine, {r['model']}", "; ".join(parts)


def _alternating(what: str) -> Callable[[dict], tuple[str, str]]:
    def render(r: dict) -> tuple[str, str]:
        return what.format(**r), (f"**{r['fps']:.2f} frames/s = {r['ratio']:.3f} x raw ONNX Runtime** "
                                  f"({r['raw_fps']:.2f}, input {r['input']}); target >= {r['target_ratio']}: "
                                  f"{_verdict(r)}")
    return render


def _daemon(r: dict) -> tuple[str, str]:
    kind = f"live at {r['camera_fps']} fps" if r["realtime"] else "recordings (`realtime: false`)"
    what, text = _alternating("")(r)
    cores = sum(run["daemon_cores"] for run in r["runs"]) / len(r["runs"])
    return f"daemon, {r['cameras']} cameras x {r['clip']}, {kind}", f"{text}; daemon {cores:.2f} cores"


def _latency(r: dict) -> tuple[str, str]:
    e2e = r["end_to_end_ms"]
    return (f"capture-to-publish latency, one {r['source']} camera {r['camera']}",
            f"**p50 {e2e['p50']:.1f} ms, p99 {e2e['p99']:.1f} ms** ({r['processed_fps']:.1f} frames/s processed)")


def _frame_cost(r: dict) -> tuple[str, str]:
    return (f"head decoding + NMS + tracking, {r['objects']} detections, one core",
            f"**{r['total_ms_p50']:.2f} ms** p50 (postprocess {r['postprocess_ms']['p50']:.2f} + tracking "
            f"{r['tracking_ms']['p50']:.2f}); target <= {r['target_ms']:g} ms: {_verdict(r)}; "
            f"JSON message {r['message_ms']['p50']:.2f} ms")


def _finish_cost(r: dict) -> tuple[str, str]:
    what = f"host CPU per frame after inference, {r['cameras']} cameras (head rows, NMS, tracking, messages)"
    if "after" in r:  # --compare: before and after, interleaved
        return what, (f"**{r['after']['total']['p50']:.0f} µs** against {r['before']['total']['p50']:.0f} µs before "
                      f"= {r['ratio_after_before']['total']:.2f} x; outputs identical: {r['outputs_identical']}")
    total = sum(r["cpu_us_per_frame"][step]["p50"] for step in ("candidates", "nms", "finish"))
    return what, f"**{total:.0f} µs** (finish {r['cpu_us_per_frame']['finish']['p50']:.0f} µs)"


def _decode(r: dict) -> tuple[str, str]:
    best = min(r["runs"], key=lambda run: run["cpu_ms_per_frame"])
    return (f"decoding + copy + BGR conversion, letterbox, {r['clip']}",
            f"**{best['cpu_ms_per_frame']:.2f} CPU-ms** per frame (BGR conversion {best['bgr_conversion_ms_per_frame']:.2f}); "
            f"letterbox {r['letterbox_ms']['p50']:.2f} ms")


def _soak(r: dict) -> tuple[str, str]:
    rss = r["rss_mib"]
    return (f"daemon RSS, {len(r['daemon_config']['cameras'])} cameras, RTSP cut every {r['cut_every_s']:g} s, "
            f"{r['minutes']:g} min after {r['warmup_minutes']:g} min warm-up",
            f"**{r['slope_kib_per_min']:+.1f} KiB/min**, {len(r['lasting_steps'])} lasting steps, RSS "
            f"{rss['min']:.1f}-{rss['max']:.1f} MiB, back after {r['rtsp_streaming_starts'] - 1} cuts; daemon "
            f"{r['daemon_cores']:.2f} cores; target < {r['target_slope_kib_per_min']:g} KiB/min and no lasting step: "
            f"{_verdict(r)}")


def _monitoring(r: dict) -> tuple[str, str]:
    return (f"health monitors ({', '.join(r['monitors'])}) sampled at {1 / r['interval_s']:g} Hz",
            f"**{r['percent_of_a_core']:.3f} % of one core** above the idle process; target <= "
            f"{r['target_percent']:g} %: {_verdict(r)}; one read {r['read_ms']['p50']:.3f} ms median; "
            f"{r['record_us_per_batch']:.2f} us per batch on the frame path")


RENDERERS: dict[str, Callable[[dict], tuple[str, str]]] = {
    "engine": _engine,
    "analyze": _alternating("`jetsentry analyze`, {clip}, batch {batch}"),
    "daemon": _daemon,
    "latency": _latency,
    "frame_cost": _frame_cost,
    "finish_cost": _finish_cost,
    "decode": _decode,
    "soak": _soak,
    "monitoring": _monitoring,
}


def row(path: Path) -> str:
    record = json.loads(path.read_text())
    kind = Path(record["command"].split()[1]).stem.removeprefix("bench_")  # python bench/bench_KIND.py ...
    if kind not in RENDERERS:
        return f"| {path.stem} | (no renderer) | `{record['command']}` | |"
    try:
        what, text = RENDERERS[kind](record["result"])
    except (KeyError, TypeError):  # written by an older version of the benchmark
        return f"| {path.stem} | (older result format: run the command again) | `{record['command']}` | |"
    if record.get("disturbed"):
        text += f" (**disturbed**: other processes used up to {record['foreign_cores_max']:.2f} cores)"
    when = f"{record['date'][:10]}, {record['machine']['commit']}"
    return f"| {what} | {text} | `{record['command']}` | {when} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="result names (file stems); default all")
    args = parser.parse_args()
    paths = [RESULTS / f"{name}.json" for name in args.names] if args.names else sorted(RESULTS.glob("*.json"))
    print("| measurement | result | command | measured |\n|---|---|---|---|")
    print("\n".join(row(path) for path in paths))


if __name__ == "__main__":
    main()
