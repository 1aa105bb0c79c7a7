"""Reproduce the bundled default detector: synthetic scenes -> YOLOv8n from scratch -> ONNX.

Stages (run all, or one at a time with --stage so each fits a bounded job):
  data    render the YOLO dataset with jetsentry.synth (no video, no GStreamer needed)
  train   train with Ultralytics on GPU 0
  export  export ONNX (opset and dynamic axes from the recipe) and stamp our metadata

Needs: ultralytics, torch with CUDA, onnx; the jetsentry package on PYTHONPATH (daemon/).
Runs offline: YOLO_OFFLINE=1 is set, AMP's model check is off and nothing is downloaded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml


def recipe_hash(recipe_path: Path) -> str:
    return hashlib.sha256(recipe_path.read_bytes()).hexdigest()[:16]


def stage_data(recipe: dict, work: Path, jobs: int) -> Path:
    data = recipe["data"]
    dataset = work / "dataset"
    if (dataset / "data.yaml").is_file():
        print(f"dataset exists: {dataset}")
        return dataset
    cmd = [
        sys.executable, "-m", "jetsentry.synth",
        "--seed", str(data["seed"]), "--out", str(work / "scenes"),
        "--scenes", str(data["scenes"]), "--frames", str(data["frames"]),
        "--width", str(data["width"]), "--height", str(data["height"]),
        "--dataset", str(dataset), "--every", str(data["every"]),
        "--val-fraction", str(data["val_fraction"]),
        "--no-video", "--jobs", str(jobs),
    ]
    print(" ".join(cmd), flush=True)
    started = time.monotonic()
    subprocess.run(cmd, check=True)
    print(f"data stage took {time.monotonic() - started:.0f} s", flush=True)
    return dataset


def _exit_after_deadline(deadline_s: float):
    """Callback: end the process at the first epoch end past the deadline.

    It runs after Ultralytics saved last.pt, and exits without Ultralytics'
    final clean-up (which strips the optimizer), so the run stays resumable.
    Lets a long training run in bounded jobs: rerun the train stage to resume.
    """
    started = time.monotonic()

    def on_fit_epoch_end(trainer) -> None:
        if time.monotonic() - started > deadline_s and trainer.epoch + 1 < trainer.epochs:
            print(f"deadline reached after epoch {trainer.epoch + 1}; resumable from last.pt", flush=True)
            os._exit(3)

    return on_fit_epoch_end


def stage_train(recipe: dict, work: Path, deadline_s: float | None = None) -> Path:
    from ultralytics import YOLO

    last = work / "runs" / "default" / "weights" / "last.pt"
    resuming = last.is_file()
    train = dict(recipe["train"])
    model = YOLO(str(last) if resuming else train.pop("model"))
    train.pop("model", None)
    if deadline_s:
        model.add_callback("on_fit_epoch_end", _exit_after_deadline(deadline_s))
    if resuming:
        print(f"resuming from {last}", flush=True)
        model.train(resume=True)
        return work / "runs" / "default" / "weights" / "best.pt"
    model.train(
        data=str(work / "dataset" / "data.yaml"),
        project=str(work / "runs"),
        name="default",
        exist_ok=True,
        pretrained=False,
        plots=False,
        cache="ram",
        device=0,
        patience=1000,
        **train,
    )
    best = work / "runs" / "default" / "weights" / "best.pt"
    print(f"trained: {best}", flush=True)
    return best


def stage_export(recipe: dict, recipe_path: Path, work: Path, out: Path) -> Path:
    import onnx
    from ultralytics import YOLO

    best = work / "runs" / "default" / "weights" / "best.pt"
    exp = recipe["export"]
    exported = Path(
        YOLO(str(best)).export(
            format="onnx", opset=exp["opset"], dynamic=exp["dynamic"], imgsz=exp["imgsz"], simplify=False
        )
    )
    model = onnx.load(str(exported))
    meta = {p.key: p.value for p in model.metadata_props}
    meta.update(
        {
            "description": f"{recipe['name']} {recipe['version']}: YOLOv8n trained on jetsentry synthetic scenes",
            "version": recipe["version"],
            "recipe": recipe["name"],
            "recipe_hash": recipe_hash(recipe_path),
            "license": "Apache-2.0",
        }
    )
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=str(value))
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{recipe['name']}.onnx"
    onnx.save(model, str(target))
    results = work / "runs" / "default" / "results.csv"
    if results.is_file():
        shutil.copy(results, out / "results.csv")
    print(json.dumps({"model": str(target), "bytes": target.stat().st_size, **meta}), flush=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (dataset, runs)")
    parser.add_argument("--out", type=Path, required=True, help="where the ONNX model is written")
    parser.add_argument("--stage", choices=["data", "train", "export", "all"], default="all")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--deadline-s", type=float, help="train: stop resumably at the first epoch end past this")
    args = parser.parse_args(argv)

    os.environ.setdefault("YOLO_OFFLINE", "1")
    recipe = yaml.safe_load(args.recipe.read_text())
    args.work.mkdir(parents=True, exist_ok=True)
    if args.stage in ("data", "all"):
        stage_data(recipe, args.work, args.jobs)
    if args.stage in ("train", "all"):
        stage_train(recipe, args.work, args.deadline_s)
    if args.stage in ("export", "all"):
        stage_export(recipe, args.recipe, args.work, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
