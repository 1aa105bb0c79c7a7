"""`jetsentry analyze` frames/s on one 1080p video, against the raw engine at the same shape and batch.

Runs the real command line (`jetsentry analyze VIDEO --model ONNX --batch N --out
FILE.jsonl`) on the 300-frame 1080p photo clip, `--rounds` times, alternating with raw ONNX
Runtime runs (a plain session on the same letterboxed input and batch; common.alternate).
A run's frames/s comes from the `processed_ts` of its messages, from the first frame to the
last (model loading and start-up do not count).  The result is the ratio of the pooled rates.

    python bench/bench_analyze.py [--model ONNX] [--clip VIDEO] [--batch 1] [--rounds 4] [--name NAME]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from bench_engine import letterboxed_batch, raw_engine
from common import JETSENTRY, alternate, bench_arguments, burst_span, chosen_clip, chosen_model, wait_for_quiet
from common import write_result
from daemon_run import parse_utc


def analyze_run(command: list[str], out: Path) -> dict:
    """One whole `jetsentry analyze` run; frames and seconds from the first message to the last."""
    process = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}:\n{process.stderr[-3000:]}")
    finished = [parse_utc(json.loads(line)["processed_ts"]) for line in out.read_text().splitlines()]
    frames, seconds = burst_span(finished)
    return {"frames": frames, "seconds": seconds, "messages": len(finished)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench_arguments(parser, "analyze_coco_1080p")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--input-size", type=int, default=640, help="longest side for dynamic-shape models")
    parser.add_argument("--rounds", type=int, default=4, help="analyze runs, each between two raw engine runs")
    parser.add_argument("--raw-frames", type=int, default=200, help="frames timed per raw engine run")
    args = parser.parse_args()

    model = chosen_model(args)
    clip = chosen_clip(args)
    tensor = letterboxed_batch(model, clip, args.batch, args.input_size)
    raw = raw_engine(model, tensor, args.raw_frames)
    if not args.no_wait:
        wait_for_quiet()
    with tempfile.TemporaryDirectory(prefix="jetsentry-bench-") as tmp:
        out = Path(tmp) / "messages.jsonl"
        command = [JETSENTRY, "analyze", str(clip), "--model", str(model), "--batch", str(args.batch),
                   "--input-size", str(args.input_size), "--out", str(out)]
        result = alternate(lambda: analyze_run(command, out), raw, args.rounds,
                           f"bench_analyze {model.name} batch {args.batch}")
    write_result(args.name, {
        "model": model.name,
        "clip": clip.name,
        "batch": args.batch,
        "input": "x".join(map(str, tensor.shape)),
        "analyze_command": " ".join(["jetsentry", *command[1:-1], "FILE.jsonl"]),
        **result,
    })


if __name__ == "__main__":
    main()
