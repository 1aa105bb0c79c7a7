"""`jetsentry analyze` frames/s on one video (1 camera), against the raw engine at the same shape and batch.

Runs the real command line (`jetsentry analyze VIDEO --model ONNX --batch N --out
FILE.jsonl`) on a long clip (the 10 photographs, 120 frames each: 1200 frames of 1080p).
While it runs, it is frozen with SIGSTOP for each raw ONNX Runtime measurement (plain
session.run on the same letterboxed input and batch) and measured in the windows between
(bench/interleave.py): a window's frames/s comes from the processed_ts of the frames it
finished.  The result is the ratio of the pooled rates.  Also records the
analyze summary and where the process spent its CPU (per thread group).

    python bench/bench_analyze.py [--model ONNX] [--clip VIDEO] [--batch 1] [--windows 6] [--window 8] [--name NAME]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from bench_engine import letterboxed_batch, raw_ort_run
from common import JETSENTRY, CpuMonitor, bench_arguments, chosen_clip, chosen_model, wait_for_quiet, write_result
from daemon_run import parse_utc
from interleave import add_window_arguments, burst_rate, frozen, judge_windows, verdict_line
from thread_cpu import ThreadCpuSampler

LONG_CLIP_FRAMES_PER_PHOTO = 120  # 1200 frames: long enough for the windows at ~16 frames/s
START_TIMEOUT_S = 120.0
SETTLE_S = 1.0  # after SIGCONT: the frame in flight ends


def interleaved_analyze(command: list[str], out: Path, model: Path, tensor, args) -> tuple[dict, list, list]:
    """One analyze run, frozen for raw runs between its windows; returns (summary+cpu, windows, raws)."""
    with CpuMonitor() as total_monitor:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sampler = ThreadCpuSampler(process.pid).start()
        spans = []
        raws = []
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not (out.exists() and out.stat().st_size > 0):  # the first frames are done
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"analyze did not start: {process.communicate()[1]}")
                time.sleep(0.1)
            time.sleep(args.warmup)
            with frozen(process.pid):
                raws.append(raw_ort_run(model, tensor, args.raw_frames, with_engine=True))
            for _ in range(args.windows):
                time.sleep(SETTLE_S)
                with CpuMonitor() as monitor:
                    start = time.time()
                    time.sleep(args.window)
                    end = time.time()
                if process.poll() is not None:
                    raise RuntimeError("the clip ended before the last window: use a longer clip or fewer windows")
                spans.append((start, end, monitor.record))
                with frozen(process.pid):
                    raws.append(raw_ort_run(model, tensor, args.raw_frames, with_engine=True))
            stdout, stderr = process.communicate(timeout=1800)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
            threads = sampler.stop()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}:\n{stderr}")
    finished = [parse_utc(json.loads(line)["processed_ts"]) for line in out.read_text().splitlines()]
    windows = []
    for start, end, load in spans:
        inside = [t for t in finished if start <= t <= end]
        windows.append({"frames": len(inside), "window_s": round(end - start, 2),
                        "fps": round(burst_rate(inside), 2), "load": load})
    summary = json.loads(stdout.strip().splitlines()[-1])
    return {"summary": summary, "thread_cpu_s": threads, "load": total_monitor.record}, windows, raws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "analyze_coco_1080p")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--input-size", type=int, default=640, help="longest side for dynamic-shape models")
    add_window_arguments(parser, warmup_s=3.0, window_s=8.0, raw_frames=70, unit="frame")  # raw: ~8 s
    args = parser.parse_args()

    model = chosen_model(args)
    clip = chosen_clip(args, frames_per_photo=LONG_CLIP_FRAMES_PER_PHOTO)
    tensor = letterboxed_batch(model, clip, args.batch, args.input_size)
    label = f"bench_analyze {model.name} batch {args.batch}"
    if not args.no_wait:
        wait_for_quiet()
    with tempfile.TemporaryDirectory(prefix="jetsentry-bench-") as tmp:
        out = Path(tmp) / "messages.jsonl"
        command = [JETSENTRY, "analyze", str(clip), "--model", str(model), "--batch", str(args.batch),
                   "--input-size", str(args.input_size), "--out", str(out)]
        run, windows, raws = interleaved_analyze(command, out, model, tensor, args)
    fields = judge_windows(windows, raws)
    for index, window in enumerate(windows):
        print(f"{label} window {index + 1}: {window['frames']} frames in {window['window_s']:.1f} s = "
              f"{window['fps']:.2f} frames/s = {window['ratio']:.3f} x raw {window['raw_fps_around']:.2f}; "
              f"foreign load {window['load']['foreign_cores']:.2f} cores", flush=True)
    shape = "x".join(map(str, tensor.shape))
    print(verdict_line(label, fields, shape), flush=True)
    summary = run["summary"]
    print("analyze summary (whole clip, freezes included): mean ms "
          + ", ".join(f"{k} {v:.2f}" for k, v in summary["mean_ms"].items()), flush=True)
    print("analyze CPU seconds by thread: " + ", ".join(f"{k} {v:.1f}" for k, v in run["thread_cpu_s"].items()),
          flush=True)
    loads = fields.pop("loads")
    loads["whole_run"] = run["load"]
    write_result(args.name, {
        "model": model.name,
        "clip": clip.name,
        "batch": args.batch,
        "input": shape,
        "command": " ".join(command),
        "summary": summary,
        "thread_cpu_s": run["thread_cpu_s"],
        **fields,
    }, load=loads)


if __name__ == "__main__":
    main()
