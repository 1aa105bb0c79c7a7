"""Real ONNX exports of each current Ultralytics detector family, built from the YAMLs it ships.

Random weights (nothing can be downloaded), so they serve for graph structure and output
shapes, and for comparisons with Ultralytics' own predict on the same file.  The class
logits' biases are drawn from N(0, 2) (seeded): with the initial biases every score is near
0.0001 and no box would pass a threshold.  Exported once per
Ultralytics version into a cache folder, in a child process (torch stays out of the tests'
process):

    python -m tests.support.ultralytics_models OUT_DIR IMGSZ

Ultralytics 8.4 exports YOLO26 and YOLOv10 with their one-to-many head by default (nms=None:
[B, 4+C, N], NMS needed); nms=False gives the NMS-free one-to-one head [B, K, 6] (the
deprecated end2end=True means the same), and nms=True puts NMS into the graph of any detector
([B, 300, 6], while its metadata says end2end: False).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

# name: (model YAML, export options, the output layout the export must have)
FAMILIES: dict[str, tuple[str, dict, str]] = {
    "yolov8": ("yolov8n.yaml", {}, "anchors"),
    "yolov8-nms": ("yolov8n.yaml", {"nms": True}, "detections"),
    "yolo11": ("yolo11n.yaml", {}, "anchors"),
    "yolo26": ("yolo26n.yaml", {}, "anchors"),
    "yolo26-end2end": ("yolo26n.yaml", {"nms": False}, "detections"),
    "yolov10-end2end": ("yolov10n.yaml", {"nms": False}, "detections"),
}
IMGSZ = 96  # 189 anchors: K = 189 rows for NMS-free heads, never 4 + 80 (the two layouts stay apart)


def ultralytics_version() -> str | None:
    try:
        return importlib.metadata.version("ultralytics")
    except importlib.metadata.PackageNotFoundError:
        return None


def exported_families(cache: Path, imgsz: int = IMGSZ) -> dict[str, Path]:
    """{family: ONNX path}, exporting them into ``cache`` the first time (about a minute)."""
    folder = cache / f"ultralytics-{ultralytics_version()}-{imgsz}"
    manifest = folder / "families.json"
    if not manifest.is_file():
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        env = {**os.environ, "YOLO_OFFLINE": "1", "YOLO_VERBOSE": "False"}
        done = subprocess.run([sys.executable, "-m", "tests.support.ultralytics_models", str(partial), str(imgsz)],
                              capture_output=True, text=True, env=env, timeout=600,
                              cwd=Path(__file__).resolve().parents[2])
        if done.returncode:
            raise RuntimeError(f"exporting the Ultralytics test models failed:\n{done.stderr[-4000:]}")
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
    return {name: folder / file for name, file in json.loads(manifest.read_text()).items()}


def _spread_class_scores(model, seed: int) -> None:
    import torch

    generator = torch.Generator().manual_seed(seed)
    head = model.model.model[-1]
    for module in head.modules():
        if isinstance(module, torch.nn.Conv2d) and module.out_channels == head.nc and module.bias is not None:
            module.bias.data = torch.randn(head.nc, generator=generator) * 2.0


def _export_all(out: Path, imgsz: int) -> None:
    from ultralytics import YOLO

    files = {}
    for index, (name, (yaml, options, _)) in enumerate(FAMILIES.items()):
        work = out / name
        work.mkdir()
        os.chdir(work)  # a YAML model exports next to the working directory
        model = YOLO(yaml)
        _spread_class_scores(model, seed=index)
        exported = Path(model.export(format="onnx", imgsz=imgsz, opset=17, simplify=False, dynamic=False,
                                          verbose=False, **options))
        target = out / f"{name}.onnx"
        exported.replace(target)
        files[name] = target.name
    (out / "families.json").write_text(json.dumps(files, indent=2))


if __name__ == "__main__":
    _export_all(Path(sys.argv[1]).resolve(), int(sys.argv[2]))
