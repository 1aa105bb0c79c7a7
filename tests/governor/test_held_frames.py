"""Failed batches held for the fallback: bounded, expiring; device pictures copied to the host first.

Device pictures come from a FAKE (tests/governor/fake_device_picture.py: capture's DevicePicture
interface over host memory; this machine has no GPU); tests/gpu/test_failed_batch_pictures_gpu.py
does the same on a real GPU."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from jetsentry.capture.frame import Frame, YuvImage
from jetsentry.config.models import TrackerConfig
from jetsentry.governor.held_frames import HeldFrames
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
from jetsentry.pipeline import FrameProcessor
from tests.governor.fake_device_picture import FakeDevicePicture
from tests.governor.test_detector_switch import ClosingDetector, model
from tests.governor.test_runner import FailingDetector


def batch(first_seq: int, size: int = 2) -> list[Frame]:
    return [Frame("cam", first_seq + i, np.zeros((8, 8, 3), np.uint8), 1.7e9, 0.0) for i in range(size)]


def nv12(width: int, height: int, seed: int) -> np.ndarray:
    """A real NV12 picture: a blurred random scene converted as an encoder would."""
    rng = np.random.default_rng(seed)
    bgr = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (0, 0), 2)
    i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    u = i420[height:height + height // 4].reshape(height // 2, width // 2)
    v = i420[height + height // 4:].reshape(height // 2, width // 2)
    return np.concatenate([i420[:height], np.stack([u, v], axis=-1).reshape(height // 2, width)])


def device_batch(count: int = 3, width: int = 96, height: int = 64):
    pictures = [nv12(width, height, seed) for seed in range(count)]
    fakes = [FakeDevicePicture(p, width, height) for p in pictures]
    return pictures, fakes, [Frame(f"cam{i}", 10 + i, fake, 1.7e9, 0.0) for i, fake in enumerate(fakes)]


def failing_processor(model_path) -> FrameProcessor:
    """A frame processor keeping device pictures for copies, whose detector's runs fail (a FAKE CUDA error)."""
    processor = FrameProcessor(FailingDetector(OnnxRuntimeEngine(model_path, threads=1)), device_id="dev",
                               tracker=TrackerConfig())
    processor.copy_failed_pictures = True
    processor.detector.failing = True
    return processor


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return model(tmp_path_factory.mktemp("models") / "m.onnx")


def test_held_batches_come_back_oldest_first_and_the_bound_gives_up_the_oldest():
    held = HeldFrames(max_batches=3)
    for seq in range(0, 10, 2):
        assert held.hold(batch(seq), now=float(seq))
    assert len(held) == 6 and held.given_up == 4
    assert [[f.seq for f in b] for b in held.take_all()] == [[4, 5], [6, 7], [8, 9]]
    assert len(held) == 0 and held.retried == 6 and held.take_all() == []


def test_expiry_and_give_up_count_what_they_drop():
    held = HeldFrames()
    held.hold(batch(0), now=1.0)
    held.hold(batch(2), now=5.0)
    assert held.expire(older_than=2.0) == 2 and len(held) == 2
    assert held.give_up() == 2 and held.given_up == 4 and len(held) == 0
    assert not held.hold([])


def test_a_failed_batch_of_device_pictures_is_copied_to_the_host_and_the_fallback_infers_the_copies(model_path):
    pictures, fakes, frames = device_batch()
    processor = failing_processor(model_path)
    prepared = processor.prepare(frames)
    assert [f.releases for f in fakes] == [0, 0, 0]  # kept until inferred
    with pytest.raises(Exception, match="CUDA_ERROR_LAUNCH_FAILED"):
        processor.complete(prepared)
    assert [f.releases for f in fakes] == [1, 1, 1]  # back to the decoder, once, after the copy
    assert all(f.device is None and f.yuv.format == "NV12" for f in frames)
    for frame, picture in zip(frames, pictures):
        np.testing.assert_array_equal(frame.yuv.data, picture)
    held = HeldFrames()
    assert held.hold(frames) and len(held) == 3 and held.given_up == 0
    fallback = ClosingDetector(OnnxRuntimeEngine(model_path, threads=1))
    retried, _ = fallback.detect(held.take_all()[0])
    direct, _ = fallback.detect([Frame("x", 0, YuvImage(p, 96, 64, "NV12"), 1.7e9, 0.0) for p in pictures])
    for got, want in zip(retried, direct):
        np.testing.assert_array_equal(got.boxes, want.boxes)
        np.testing.assert_array_equal(got.scores, want.scores)
    processor.close()
    fallback.close()


def test_device_pictures_that_cannot_be_copied_are_given_up_counted_and_logged(model_path, caplog):
    _, fakes, frames = device_batch()
    processor = failing_processor(model_path)
    prepared = processor.prepare(frames)
    fakes[1].lost = True  # the GPU went away after pre-processing: this copy fails
    with pytest.raises(Exception, match="CUDA_ERROR_LAUNCH_FAILED"):
        processor.complete(prepared)
    assert [f.device is None for f in frames] == [True, False, True]
    assert [f.releases for f in fakes] == [1, 1, 1]  # the failed one goes back to its decoder too
    assert "could not be copied to the host" in caplog.text and "CUDA_ERROR_DEVICE_UNAVAILABLE" in caplog.text
    held = HeldFrames()
    assert held.hold(frames)
    assert held.given_up == 1 and [f.seq for f in held.take_all()[0]] == [10, 12]
    assert "1 frame(s) of a failed batch given up (cam1 seq 11)" in caplog.text
    processor.close()


def test_a_failed_pre_processing_copies_the_pictures_before_they_go_back(model_path):
    _, fakes, frames = device_batch(2)
    detector = ClosingDetector(OnnxRuntimeEngine(model_path, threads=1))

    def failing_prepare(images):
        raise RuntimeError("letterbox kernel failed (fake)")

    detector.prepare = failing_prepare
    processor = FrameProcessor(detector, device_id="dev", tracker=TrackerConfig())
    processor.copy_failed_pictures = True
    with pytest.raises(RuntimeError, match="letterbox"):
        processor.prepare(frames)
    assert all(f.device is None for f in frames) and [f.releases for f in fakes] == [1, 1]
    processor.close()


def test_without_copies_device_pictures_go_back_once_pre_processed(model_path):
    _, fakes, frames = device_batch(2)
    processor = FrameProcessor(ClosingDetector(OnnxRuntimeEngine(model_path, threads=1)), device_id="dev",
                               tracker=TrackerConfig())
    processor.prepare(frames)
    assert [f.releases for f in fakes] == [1, 1] and all(f.device is not None for f in frames)
    processor.close()
