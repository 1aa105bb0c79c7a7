"""Fixtures for tests that need an NVIDIA GPU (they skip with the reason where there is none)."""

from __future__ import annotations

import pytest


def _gpu_or_reason():
    try:
        from jetsentry.gpu.cuda import get_device

        return get_device(0), None
    except Exception as exc:  # noqa: BLE001 - any failure means: no usable GPU here
        return None, f"needs an NVIDIA GPU with cuda-python: {exc}"


@pytest.fixture(scope="session")
def gpu():
    device, reason = _gpu_or_reason()
    if device is None:
        pytest.skip(reason)
    return device


@pytest.fixture(scope="session")
def ort_cuda(gpu):
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip(f"needs onnxruntime-gpu (this onnxruntime has {ort.get_available_providers()})")
    return ort


from tests.infer.conftest import coco_model, make_model, simple_head  # noqa: E402,F401 - shared fixtures
