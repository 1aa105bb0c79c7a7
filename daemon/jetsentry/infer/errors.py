"""Errors of the infer stage; each message names the file, setting or call at fault.

The GPU errors form one tree under ``GpuError`` so that a caller (the daemon's health
state, a later health governor) can tell a device failure from a bad model:

    GpuError
      CudaError          a CUDA driver call returned an error status (``call``, ``status``)
        GpuMemoryError   the device cannot hold what the configuration asks for
      NvrtcError         the pre-processing kernel failed to compile
      TensorRTError      a TensorRT call failed (``call``)
        EngineBuildError building an engine failed
      EngineTimeoutError an engine call gave no result within its deadline (also a TimeoutError)
"""

from __future__ import annotations


class ModelError(ValueError):
    """The model file is missing, is not ONNX, or is not a YOLO detection model."""


class BackendUnavailableError(RuntimeError):
    """The requested inference backend cannot run on this machine."""


class GpuError(RuntimeError):
    """A failure of the GPU, its driver or a GPU library; ``call`` names the failed call."""

    def __init__(self, message: str, *, call: str = "") -> None:
        super().__init__(message)
        self.call = call


class CudaError(GpuError):
    """A CUDA driver call returned ``status`` (its name, e.g. CUDA_ERROR_OUT_OF_MEMORY)."""

    def __init__(self, message: str, *, call: str, status: str, code: int) -> None:
        super().__init__(message, call=call)
        self.status = status
        self.code = code


class GpuMemoryError(CudaError):
    """The device has less memory than an allocation or a configured cap needs."""


class NvrtcError(GpuError):
    """NVRTC could not compile a kernel; the message holds the compiler's log."""


class TensorRTError(GpuError):
    """A TensorRT call failed or returned no object; the message names the call."""


class EngineBuildError(TensorRTError):
    """TensorRT could not build an engine from the model (parser or builder errors)."""


class EngineTimeoutError(GpuError, TimeoutError):
    """An engine call gave no result within its deadline (governor.engine_timeout_s): the device
    hangs or is gone; the engine is abandoned, never called again (infer/deadline.py)."""
