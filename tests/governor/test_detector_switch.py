"""The detector switch on a real FrameProcessor with real ONNX Runtime engines and the prefetch thread.

The models (tests/infer/onnx_models.py) have one box whose score is the frame's brightness;
two files of the same model differ in their bytes, so each message's model.sha256 says which
detector inferred the frame.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

from jetsentry.batch.prefetch import PrefetchedBatches
from jetsentry.capture.frame import Frame
from jetsentry.config.models import TrackerConfig
from jetsentry.detector_switch import DetectorSwitch, SwitchFailed, warm_up
from jetsentry.infer import Detector
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
from jetsentry.pipeline import FrameProcessor
from tests.infer.onnx_models import head, ultralytics_metadata, write_detection_model


class ClosingDetector(Detector):
    """A real Detector that records when it was closed (and how many batches it had run)."""

    def __init__(self, engine) -> None:
        super().__init__(engine, confidence=0.25)
        self.closed = threading.Event()
        self.runs = 0

    def run(self, prepared, **kwargs):
        if self.closed.is_set():
            raise RuntimeError("run after close")
        self.runs += 1
        return super().run(prepared, **kwargs)

    def close(self) -> None:
        self.closed.set()
        super().close()


def model(path, classes=("person", "car", "dog"), box=(32, 32, 16, 16)) -> str:
    base = head([box], [[0.0] * len(classes)], anchors=4)
    brightness = np.zeros_like(base)
    brightness[4, 0] = 1.0
    return str(write_detection_model(path, base, brightness=brightness, batch=None,
                                     metadata=ultralytics_metadata(list(classes))))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {"a": model(folder / "a.onnx"), "b": model(folder / "b.onnx", box=(32, 32, 16, 17)),
            "other": model(folder / "other.onnx", classes=("cat", "bird", "fish"))}


def detector(path) -> ClosingDetector:
    return ClosingDetector(OnnxRuntimeEngine(path, threads=1))


def frames(count: int, cameras=("cam1", "cam2")):
    """Bright frames (score 0.8) from each camera, 30 frames/s."""
    for i in range(count):
        for camera in cameras:
            yield Frame(camera, i, np.full((64, 64, 3), 204, np.uint8), 1.7e9 + i / 30, time.monotonic())


def sha(result) -> str:
    return json.loads(result.payload)["model"]["sha256"]


def serve(processor, switch, batches, *, switch_at: int, build, probe=False):
    """Consume `batches` through the prefetch thread as the daemon does; at batch `switch_at` ask for
    a switch and commit it at the first batch boundary after it is ready.  Returns the results and
    the index of the first batch prepared after the commit."""
    results, committed_at = [], None
    with PrefetchedBatches(iter(batches), processor.prepare) as prepared:
        for index, batch in enumerate(prepared):
            results.extend(processor.complete(batch))
            if index == switch_at:
                switch.prepare(build, label="b", probe=probe)
            if switch.busy and committed_at is None:
                outcome = switch.poll()
                if outcome is True:
                    result = switch.commit()
                    committed_at = index
                    assert result.label == "b"
                elif outcome is not None:
                    raise AssertionError(outcome)
            time.sleep(0.005)  # a camera's pace: the build thread gets time
    return results, committed_at


def test_switch_at_a_batch_boundary_loses_no_frame_keeps_trackers_closes_the_old_detector(models):
    old = detector(models["a"])
    processor = FrameProcessor(old, device_id="dev", tracker=TrackerConfig())
    switch = DetectorSwitch(processor, warmup_frames=2)
    new = []
    all_frames = list(frames(60))
    batches = [all_frames[i:i + 2] for i in range(0, len(all_frames), 2)]
    results, committed_at = serve(processor, switch, batches, switch_at=5,
                                  build=lambda: new.append(detector(models["b"])) or new[-1])
    assert committed_at is not None
    # Every frame taken was inferred and published exactly once, in order per camera.
    for camera in ("cam1", "cam2"):
        assert [r.frame.seq for r in results if r.frame.camera_id == camera] == list(range(60))
    shas = [sha(r) for r in results]
    first_new = shas.index(OnnxRuntimeEngine(models["b"], threads=1).info.sha256)
    assert set(shas[:first_new]) == {old.info.sha256} and len(set(shas[first_new:])) == 1  # one cut, no mixing
    assert old.closed.is_set() and not new[0].closed.is_set()
    # The prefetch thread had one batch prepared ahead by the old detector: it ran there (the drain).
    assert old.runs * 2 == first_new and first_new >= 2 * (committed_at + 1)
    # Same classes: tracks continue (one object, one track id throughout, per camera).
    assert {tuple(r.detections.track_ids) for r in results if r.frame.camera_id == "cam1"} == {(1,)}
    processor.close()
    assert new[0].closed.is_set()


def test_other_classes_reset_the_trackers_and_the_ids_keep_counting(models):
    processor = FrameProcessor(detector(models["a"]), device_id="dev", tracker=TrackerConfig())
    for batch in (list(frames(3, ("cam1",)))[i:i + 1] for i in range(3)):
        processor.process(batch)
    old, kept = processor.swap_detector(detector(models["other"]))
    assert not kept and old.closed.is_set()  # nothing was in flight: closed at once
    later = [Frame("cam1", 3 + i, np.full((64, 64, 3), 204, np.uint8), 1.7e9 + (3 + i) / 30, 0.0) for i in range(3)]
    results = [r for f in later for r in processor.process([f])]
    assert [json.loads(r.payload)["detections"][0]["label"] for r in results] == ["cat"] * 3
    assert {int(r.detections.track_ids[0]) for r in results} == {2}  # a new track, not id 1 reused
    processor.close()


def test_a_failing_build_or_probe_leaves_the_serving_detector_alone(models, tmp_path):
    old = detector(models["a"])
    processor = FrameProcessor(old, device_id="dev", tracker=None)
    switch = DetectorSwitch(processor)

    def broken():
        raise FileNotFoundError("no such model: /nowhere.onnx")

    switch.prepare(broken, label="fallback")
    while (outcome := switch.poll()) is None:
        processor.process(list(frames(1)))
    assert outcome == "fallback: FileNotFoundError: no such model: /nowhere.onnx" and not switch.busy
    assert processor.detector is old and not old.closed.is_set()

    class NaNDetector(ClosingDetector):
        def run(self, prepared, **kwargs):
            detections, times = super().run(prepared, **kwargs)
            for d in detections:
                d.boxes[:] = np.nan
            return detections, times

    nan = NaNDetector(OnnxRuntimeEngine(models["b"], threads=1))
    with pytest.raises(SwitchFailed, match="non-finite"):
        warm_up(nan, list(frames(1)), probe=True)
    switch.prepare(lambda: nan, label="primary", probe=True)
    while (outcome := switch.poll()) is None:
        processor.process(list(frames(1)))
    assert "probe batch gave non-finite boxes" in outcome and nan.closed.is_set()
    assert processor.detector is old


def test_cancel_closes_a_detector_built_for_nothing(models):
    processor = FrameProcessor(detector(models["a"]), device_id="dev", tracker=None)
    processor.process(list(frames(1)))
    switch = DetectorSwitch(processor)
    built = []
    release = threading.Event()

    def slow():
        release.wait(5)
        built.append(detector(models["b"]))
        return built[-1]

    switch.prepare(slow, label="primary")
    switch.cancel()
    release.set()
    switch.close()
    assert built and built[0].closed.is_set() and switch.poll() is None
