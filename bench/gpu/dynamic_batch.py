"""A dynamic-batch copy of a static-batch Ultralytics YOLOv8 detection ONNX, for batched GPU runs.

The COCO test model is exported with batch 1; its detection head reshapes to constants
whose first element is that batch.  Setting those to 0 ("copy the input's dimension",
ONNX Reshape) and the graph's batch dimensions to a name gives the same network for any
batch.  ``check`` compares batch runs with batch-1 runs on the CPU.  The copy is written
outside the repository (the weights' licence keeps them out of it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper


def make_dynamic_batch(source: Path, target: Path) -> Path:
    model = onnx.load(str(source))
    constants = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant":
            constants[node.output[0]] = node.attribute[0].t
    for node in model.graph.node:
        if node.op_type != "Reshape" or "/model.22/" not in node.name:
            continue
        tensor = constants[node.input[1]]
        shape = numpy_helper.to_array(tensor).copy()
        if shape[0] == 1:
            shape[0] = 0
            tensor.CopyFrom(numpy_helper.from_array(shape.astype(np.int64), tensor.name))
    for value in (*model.graph.input, *model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    del model.graph.value_info[:]
    onnx.save(model, str(target))
    return target


def check(path: Path, batch: int = 3) -> float:
    """Largest difference between a batch run and batch-1 runs of the same images (CPU)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = np.random.default_rng(0).random((batch, 3, 640, 640), dtype=np.float32)
    together = session.run(None, {"images": images})[0]
    alone = np.concatenate([session.run(None, {"images": images[i : i + 1]})[0] for i in range(batch)])
    return float(np.abs(together - alone).max() / max(1e-6, np.abs(alone).max()))


if __name__ == "__main__":
    out = make_dynamic_batch(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{out}: batch-3 vs batch-1 relative difference {check(out):.2e}")
