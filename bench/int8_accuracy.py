"""mAP and tracking scores of a model's FP32, FP16 and INT8 files on held-out scenes.

Makes the INT8 files with `jetsentry models quantize` (one per calibration method) and the
FP16 files with `jetsentry models fp16` (head in float32 and in float16), then scores each,
and the FP32 model, with `jetsentry eval` on the same scenes: the commands a user runs.
Accuracy, not speed: the host's load does not matter here.

    python bench/int8_accuracy.py --model engines/models/jetsentry-default.onnx --scenes HELD_OUT \
        --calib VIDEO [--calib VIDEO ...] [--samples 128] [--methods minmax entropy percentile] \
        [--fp16] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import write_result

SCORES = ("map50", "map50_95", "mota", "idf1", "hota")


def jetsentry(*args: str) -> str:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "jetsentry", *args], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"jetsentry {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    print(f"  jetsentry {args[0]} {args[1] if len(args) > 1 else ''}: {time.monotonic() - started:.0f} s", flush=True)
    return done.stdout


def evaluate(model: Path, scenes: Path, work: Path) -> dict:
    out = work / f"{model.stem}.eval.json"
    jetsentry("eval", "--model", str(model), "--scenes", str(scenes), "--json", str(out))
    summary = json.loads(out.read_text())
    return {key: round(summary[key], 4) for key in SCORES} | {
        "per_class_ap50_95": {k: round(v["ap50_95"], 4) for k, v in summary["detection"]["per_class"].items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--scenes", type=Path, required=True, help="held-out scenes (jetsentry synth)")
    parser.add_argument("--calib", type=Path, action="append", required=True)
    parser.add_argument("--samples", type=int, default=128)
    parser.add_argument("--methods", nargs="+", default=["minmax", "entropy", "percentile"])
    parser.add_argument("--fp16", action="store_true", help="also the FP16 files (head float32 and float16)")
    parser.add_argument("--keep", type=Path, help="keep the files made here (default: a temporary folder)")
    parser.add_argument("--name", default=None, help="result file bench/results/NAME.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="int8-accuracy-") as scratch:
        work = args.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        rows = {"fp32": evaluate(args.model, args.scenes, work)}
        print(f"fp32: {rows['fp32']}", flush=True)
        calib = [item for source in args.calib for item in ("--calib", str(source))]
        for method in args.methods:
            out = work / f"{args.model.stem}.{method}.int8.onnx"
            started = time.monotonic()
            jetsentry("models", "quantize", "--model", str(args.model), *calib, "--samples", str(args.samples),
                      "--method", method, "--out", str(out))
            rows[f"int8-{method}"] = evaluate(out, args.scenes, work) | {
                "quantize_s": round(time.monotonic() - started, 1)}
            print(f"int8 {method}: {rows[f'int8-{method}']}", flush=True)
        if args.fp16:
            for head in ("fp32", "fp16"):
                out = work / f"{args.model.stem}.head-{head}.fp16.onnx"
                jetsentry("models", "fp16", "--model", str(args.model), "--head", head, "--out", str(out))
                rows[f"fp16-head-{head}"] = evaluate(out, args.scenes, work)
                print(f"fp16 head {head}: {rows[f'fp16-head-{head}']}", flush=True)

    reference = rows["fp32"]
    for label, row in rows.items():
        row["map50_95_drop"] = round(reference["map50_95"] - row["map50_95"], 4)
    print(f"\n{'file':22s} " + " ".join(f"{s:>9s}" for s in SCORES) + "  mAP50-95 drop")
    for label, row in rows.items():
        print(f"{label:22s} " + " ".join(f"{row[s]:9.4f}" for s in SCORES) + f"  {row['map50_95_drop']:+.4f}")
    write_result(args.name or f"int8_accuracy_{args.model.stem}", {
        "model": str(args.model), "scenes": str(args.scenes), "calib": [str(c) for c in args.calib],
        "samples": args.samples, "rows": rows,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
