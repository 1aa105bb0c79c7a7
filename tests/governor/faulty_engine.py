"""A FAKE engine wrapper for tests (this machine has no GPU to fail): the real ONNX Runtime CPU
engine, which raises the real exception types a failing GPU engine raises while a trigger file
says so.

The trigger file (its path in $JETSENTRY_TEST_ENGINE_FAULT) holds one word: ``cuda`` raises
infer/errors.py's CudaError (CUDA_ERROR_LAUNCH_FAILED), ``memory`` its GpuMemoryError
(CUDA_ERROR_OUT_OF_MEMORY), ``onnxruntime`` ONNX Runtime's own RuntimeException (what a
failing execution provider raises from InferenceSession.run), ``hang`` blocks the call (on an
Event, looking at the trigger again every 50 ms) until the trigger says something else: a GPU
that stops answering, then comes back late.  Only engines running the file
named by $JETSENTRY_TEST_FAULTY_MODEL fail: the primary stands in for a GPU engine, the
fallback (another file of the model) keeps working.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from jetsentry.infer.errors import CudaError, GpuMemoryError
from jetsentry.infer.onnx_engine import from_config as cpu_from_config

TRIGGER_ENV = "JETSENTRY_TEST_ENGINE_FAULT"
MODEL_ENV = "JETSENTRY_TEST_FAULTY_MODEL"


def raise_fault(kind: str) -> None:
    if kind == "cuda":
        raise CudaError("cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED (fake)", call="cuLaunchKernel",
                        status="CUDA_ERROR_LAUNCH_FAILED", code=719)
    if kind == "memory":
        raise GpuMemoryError("cuMemAlloc of 64 MiB failed: CUDA_ERROR_OUT_OF_MEMORY (fake)", call="cuMemAlloc",
                             status="CUDA_ERROR_OUT_OF_MEMORY", code=2)
    if kind == "onnxruntime":
        from onnxruntime.capi.onnxruntime_pybind11_state import RuntimeException

        raise RuntimeException("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned "
                               "while running Conv node (fake)")
    raise ValueError(f"unknown fault {kind!r}")


class FaultyEngine:
    """Delegates to the real engine; infer() raises while the trigger file names a fault."""

    def __init__(self, engine, trigger: Path) -> None:
        self._engine = engine
        self._trigger = trigger
        self.info = engine.info
        self.backend = engine.backend

    def infer(self, batch):
        kind = self._fault()
        if kind == "hang":
            released = threading.Event()  # never set: the call waits as on a device that does not answer
            while self._fault() == "hang":
                released.wait(0.05)
        elif kind:
            raise_fault(kind)
        return self._engine.infer(batch)

    def _fault(self) -> str:
        try:
            return self._trigger.read_text().strip()
        except FileNotFoundError:
            return ""

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def close(self) -> None:
        self._engine.close()


def from_config(model_cfg, options=None):
    engine = cpu_from_config(model_cfg, options)
    faulty = os.environ.get(MODEL_ENV)
    if faulty and Path(model_cfg.path).resolve() == Path(faulty).resolve():
        return FaultyEngine(engine, Path(os.environ[TRIGGER_ENV]))
    return engine


def main() -> int:
    """`python -m tests.governor.faulty_engine run --config ...`: the daemon with this engine registered."""
    import sys

    from jetsentry.infer.engine import register_backend

    register_backend("onnxruntime-cpu", "tests.governor.faulty_engine:from_config")
    from jetsentry.cli import main as cli_main

    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
