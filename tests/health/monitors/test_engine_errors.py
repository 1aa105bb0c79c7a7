"""Engine failures by kind: the typed GPU errors and ONNX Runtime's own exceptions and messages."""

from __future__ import annotations

import concurrent.futures
import threading

import numpy as np
import pytest

from jetsentry.health.monitors.engine_errors import (
    KINDS,
    EngineErrorCounter,
    classify_engine_error,
)
from jetsentry.infer.errors import CudaError, EngineBuildError, GpuMemoryError, ModelError, NvrtcError, TensorRTError

ort = pytest.importorskip("onnxruntime")
state = pytest.importorskip("onnxruntime.capi.onnxruntime_pybind11_state")

# ONNX Runtime's CUDA provider messages (cuda_call.cc's format; the arena's from bfc_arena.cc),
# as ONNX Runtime raises them for a failed run.
ORT_CUDA_OOM = ("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running Conv node. "
                "Name:'/model.0/conv/Conv' Status Message: CUDA failure 2: out of memory ; GPU=0 ; hostname=edge ; "
                "file=/onnxruntime_src/onnxruntime/core/providers/cuda/cuda_allocator.cc ; line=47 ; "
                "expr=cudaMalloc((void**)&p, size);")
ORT_ARENA = ("[ONNXRuntimeError] : 1 : FAIL : Non-zero status code returned while running Concat node. Status Message: "
             "/onnxruntime_src/onnxruntime/core/framework/bfc_arena.cc:376 void* onnxruntime::BFCArena::"
             "AllocateRawInternal(size_t, bool, onnxruntime::Stream*, bool, onnxruntime::WaitNotificationFn) "
             "Failed to allocate memory for requested buffer of size 26214400")
ORT_CUBLAS = ("[ONNXRuntimeError] : 1 : FAIL : CUBLAS failure 3: CUBLAS_STATUS_ALLOC_FAILED ; GPU=0 ; hostname=edge ; "
              "file=/onnxruntime_src/onnxruntime/core/providers/cuda/cuda_execution_provider.cc ; line=168 ; "
              "expr=cublasCreate(&cublas_handle_);")
ORT_LAUNCH = ("[ONNXRuntimeError] : 1 : FAIL : CUDA failure 719: unspecified launch failure ; GPU=0 ; hostname=edge ; "
              "file=/onnxruntime_src/onnxruntime/core/providers/cuda/gpu_data_transfer.cc ; line=73 ; "
              "expr=cudaMemcpyAsync(dst_data, src_data, bytes, cudaMemcpyDeviceToHost, ...);")
ORT_CUDNN = ("[ONNXRuntimeError] : 11 : EP_FAIL : Non-zero status code returned while running Conv node. Status Message: "
             "CUDNN failure 4: CUDNN_STATUS_INTERNAL_ERROR ; GPU=0 ; hostname=edge ; expr=cudnnFindConvolutionForwardAlgorithmEx(...);")
ORT_TRT = "[ONNXRuntimeError] : 11 : EP_FAIL : TensorRT EP execution context enqueue failed."
# Seen on the lent H200 (ONNX Runtime GPU 1.31.1, I/O binding): run_with_iobinding raises a plain
# RuntimeError.  Under a gpu_mem_limit the arena refuses with its own text; cuDNN's frontend
# reports as CUDNN_FE.
IOBINDING_ARENA_CAP = ("Error in execution: Non-zero status code returned while running QuickGelu node. "
                       "Name:'/model.0/act/Mul/QuickGeluFusion/' Status Message: /onnxruntime_src/onnxruntime/core/"
                       "framework/bfc_arena.cc:360 void* onnxruntime::BFCArena::AllocateRawInternal(size_t, bool, "
                       "onnxruntime::Stream*) Available memory of 16384 is smaller than requested bytes of 147456")
IOBINDING_CUDNN_FE = ("Error in execution: Non-zero status code returned while running Conv node. "
                      "Name:'/model.6/m.0/cv1/conv/Conv_quant_f' Status Message: CUDNN_FE failure 11: "
                      "CUDNN_BACKEND_API_FAILED ; GPU=0 ; hostname=vm ; file=/onnxruntime_src/onnxruntime/core/"
                      "providers/cuda/nn/conv.cc ; line=484 ; expr=s_.cudnn_fe_graph->execute(cudnn_handle, "
                      "s_.variant_pack, ws.get()); ")
IOBINDING_OTHER = "Error in execution: Non-zero status code returned while running Reshape node. Name:'/model.22/Reshape'"


@pytest.mark.parametrize(("exc", "kind"), [
    (GpuMemoryError("cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY", call="cuMemAlloc",
                    status="CUDA_ERROR_OUT_OF_MEMORY", code=2), "gpu_memory"),
    (CudaError("cuLaunchKernel failed", call="cuLaunchKernel", status="CUDA_ERROR_LAUNCH_FAILED", code=719),
     "cuda_launch"),
    (CudaError("cuStreamSynchronize failed", call="cuStreamSynchronize", status="CUDA_ERROR_ILLEGAL_ADDRESS",
               code=700), "cuda_launch"),
    (CudaError("cuCtxCreate failed", call="cuCtxCreate", status="CUDA_ERROR_NO_DEVICE", code=100), "cuda"),
    (NvrtcError("letterbox kernel did not compile", call="nvrtcCompileProgram"), "cuda"),
    (TensorRTError("execute_async_v3 failed", call="execute_async_v3"), "tensorrt"),
    (EngineBuildError("builder returned no engine", call="build_serialized_network"), "tensorrt"),
    (TimeoutError("inference took longer than 5 s"), "timeout"),
    (concurrent.futures.TimeoutError(), "timeout"),
    (ValueError("batch of 9; this engine's buffers hold 8"), "other"),
    (RuntimeError("engine is closed"), "other"),
    (RuntimeError(IOBINDING_ARENA_CAP), "gpu_memory"),
    (RuntimeError(IOBINDING_CUDNN_FE), "cuda"),
    (RuntimeError(IOBINDING_OTHER), "onnxruntime"),
])
def test_typed_errors(exc, kind):
    assert classify_engine_error(exc) == kind


@pytest.mark.parametrize(("exc_type", "message", "kind"), [
    ("RuntimeException", ORT_CUDA_OOM, "gpu_memory"),
    ("Fail", ORT_ARENA, "gpu_memory"),
    ("Fail", ORT_CUBLAS, "gpu_memory"),
    ("Fail", ORT_LAUNCH, "cuda_launch"),
    ("EPFail", ORT_CUDNN, "cuda"),
    ("EPFail", ORT_TRT, "tensorrt"),
    ("InvalidArgument", "[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions for input: images", "onnxruntime"),
])
def test_onnx_runtime_exceptions_by_type_and_message(exc_type, message, kind):
    exc = getattr(state, exc_type)(message)  # ONNX Runtime's own exception type
    assert type(exc).__module__.startswith("onnxruntime")
    assert classify_engine_error(exc) == kind


def test_a_real_onnx_runtime_run_failure(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])])
    path = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception) as info:
        session.run(None, {"x": np.zeros((2, 5), np.float32)})
    assert classify_engine_error(info.value) == "onnxruntime"


def test_the_cause_of_a_wrapping_error_decides():
    try:
        try:
            raise state.RuntimeException(ORT_CUDA_OOM)
        except Exception as exc:
            raise ModelError("model.path m.onnx: inference failed") from exc
    except ModelError as wrapped:
        assert classify_engine_error(wrapped) == "gpu_memory"
    try:
        try:
            raise TimeoutError("slow")
        except TimeoutError:
            raise RuntimeError("batch failed")  # implicit context
    except RuntimeError as chained:
        assert classify_engine_error(chained) == "timeout"


def test_counter_counts_by_kind_within_the_window():
    counter = EngineErrorCounter()
    oom = GpuMemoryError("oom", call="cuMemAlloc", status="CUDA_ERROR_OUT_OF_MEMORY", code=2)
    assert counter.record(oom, 100.0) == "gpu_memory"
    counter.record(TimeoutError(), 105.0)
    counter.record(oom, 110.0)
    assert counter.count(within_s=30, now=110.0) == 3
    assert counter.count("gpu_memory", within_s=30, now=110.0) == 2
    assert counter.count("gpu_memory", within_s=5, now=110.0) == 1
    assert counter.count(within_s=30, now=140.5) == 0  # all out of the window
    assert counter.count("timeout", within_s=6, now=110.0) == 1
    assert counter.total["gpu_memory"] == 2 and counter.last == ("gpu_memory", "GpuMemoryError: oom")
    with pytest.raises(ValueError, match="unknown engine error kind 'oom'"):
        counter.count("oom", within_s=1, now=0)


def test_counter_forgets_what_is_older_than_it_keeps():
    counter = EngineErrorCounter(keep_s=60.0)
    counter.record(TimeoutError(), 0.0)
    counter.record(TimeoutError(), 100.0)
    assert counter.count(within_s=1000, now=100.0) == 1
    assert counter.total["timeout"] == 2


def test_counter_is_thread_safe():
    counter = EngineErrorCounter()
    errors = [TimeoutError(), RuntimeError("x")]

    def record(n: int) -> None:
        for i in range(2000):
            counter.record(errors[i % 2], float(n))

    threads = [threading.Thread(target=record, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counter.count(within_s=10, now=4.0) == 8000
    assert counter.total["timeout"] == counter.total["other"] == 4000
    assert set(counter.total) == set(KINDS)
