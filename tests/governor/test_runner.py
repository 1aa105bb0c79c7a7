"""The governor's runner in process: real policy, switch, frame processor and thermal monitor (a FAKE Jetson
sysfs tree), events collected instead of published."""

from __future__ import annotations

import json
import time

import pytest

from jetsentry.config.models import AppConfig
from jetsentry.detector_switch import DetectorSwitch
from jetsentry.governor.runner import Governor
from jetsentry.health.message import GovernorHealth
from jetsentry.health.monitors import MonitorSet, build_monitors
from jetsentry.health.monitors.engine_errors import classify_engine_error
from jetsentry.infer import Detector
from jetsentry.infer.onnx_engine import OnnxRuntimeEngine
from jetsentry.pipeline import FrameProcessor
from tests.governor.sysfs_tree import FakeThermalZones
from jetsentry.infer.errors import CudaError
from tests.governor.test_detector_switch import ClosingDetector, frames, model
from tests.support.fake_jetson_sysfs import ORIN_JP6_GPU, FakeJetsonSysfs


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {"primary": model(folder / "primary.onnx"), "other": model(folder / "other.onnx", classes=("cat", "fish"))}


def make(tmp_path, models, build_fallback, build_primary=None, *, gpu_load: bool = False):
    """``gpu_load``: a FAKE Jetson GPU load node is read too (removing it reads as the GPU lost)."""
    zones = FakeThermalZones(tmp_path / "jetson", {"tj-thermal": 50.0})
    if gpu_load:
        FakeJetsonSysfs(zones.root).add_gpu(load_per_mille=300)
    cfg = AppConfig.model_validate({
        "device_id": "dev", "cameras": [{"id": "cam1", "source": "test://ball"}],
        "model": {"path": models["primary"]},
        "governor": {"enabled": True, "interval_s": 0.05, "cooldown_s": 0.2, "shedding": {"enabled": False},
                     "monitors": {"sysfs_root": str(zones.root), "jetson_gpu_load": gpu_load}},
    })
    build_primary = build_primary or (lambda: Detector(OnnxRuntimeEngine(models["primary"], threads=1)))
    processor = FrameProcessor(build_primary(), device_id="dev", tracker=cfg.tracker)
    published: list[dict] = []
    governor = Governor(cfg, switch=DetectorSwitch(processor), monitors=MonitorSet(build_monitors(
        cfg.governor.monitors.settings())), sessions={}, publish=lambda p: published.append(json.loads(p)),
        build_primary=build_primary, build_fallback=build_fallback, primary_backend="onnxruntime-cpu",
        fallback_backend="onnxruntime-cpu", classify=classify_engine_error)
    governor.start()
    return zones, processor, governor, published


def serve_until(processor, governor, published, kind, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while not any(e["type"] == kind for e in published):
        assert time.monotonic() < deadline, f"no {kind} event; events: {published}"
        processor.process([next(frames(1, ("cam1",)))])
        governor.tick()
        time.sleep(0.01)


def test_a_fallback_that_cannot_be_built_leaves_the_primary_serving_and_is_reported(tmp_path, models):
    def missing():
        raise FileNotFoundError("model file /nowhere.int8.onnx")

    zones, processor, governor, published = make(tmp_path, models, missing)
    primary = processor.detector
    try:
        zones.set("tj-thermal", 97.0)
        serve_until(processor, governor, published, "switch_failed")
        event = next(e for e in published if e["type"] == "switch_failed")
        assert "fallback backend failed, primary keeps serving" in event["reason"]
        assert "/nowhere.int8.onnx" in event["reason"] and event["mode"] == "normal"
        assert processor.detector is primary and governor.mode == "normal" and governor.policy.switches == 0
        part = governor.health_part()
        GovernorHealth(**part)  # the health message's part, as the reporter sends it
        assert part["temperatures_c"] == {"tj-thermal": 97.0} and part["backend"] == "onnxruntime-cpu"
    finally:
        governor.close()
        processor.close()


def test_a_fallback_with_other_classes_resets_the_trackers_with_an_event(tmp_path, models):
    zones, processor, governor, published = make(
        tmp_path, models, lambda: Detector(OnnxRuntimeEngine(models["other"], threads=1)))
    try:
        for _ in range(3):
            processor.process([next(frames(1, ("cam1",)))])
        zones.set("tj-thermal", 97.0)
        serve_until(processor, governor, published, "trackers_reset")
        assert [e["type"] for e in published] == ["fallback", "trackers_reset"]
        assert governor.mode == "cpu_fallback" and governor.health_part()["switches"] == 1
        labels = {d["label"] for r in processor.process([next(frames(1, ("cam1",)))])
                  for d in json.loads(r.payload)["detections"]}
        assert labels == {"cat"}
        # The person's track 1 was dropped; the cat got a new id, counting on.
        assert processor.process([next(frames(1, ("cam1",)))])[0].detections.track_ids.tolist() == [2]
    finally:
        governor.close()
        processor.close()


def recording_builder(path, kind):
    """A builder of ``kind`` detectors on ``path``, and the list of every one it built."""
    built = []

    def build():
        built.append(kind(OnnxRuntimeEngine(path, threads=1)))
        return built[-1]

    return built, build


class FailingDetector(ClosingDetector):
    """A real detector whose runs raise the real CudaError while ``failing`` is set (a FAKE GPU fault)."""

    failing = False

    def run(self, prepared, **kwargs):
        if self.failing:
            raise CudaError("cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED (fake)", call="cuLaunchKernel",
                            status="CUDA_ERROR_LAUNCH_FAILED", code=719)
        return super().run(prepared, **kwargs)


def serve_counting_failures(processor, governor, published, kind, timeout_s=20.0):
    """serve_until, reporting failed batches to the governor as the daemon does."""
    deadline = time.monotonic() + timeout_s
    while not any(e["type"] == kind for e in published):
        assert time.monotonic() < deadline, f"no {kind} event; events: {published}"
        for batch in governor.retries() or [[next(frames(1, ("cam1",)))]]:
            try:
                processor.process(batch)
            except CudaError as exc:
                governor.engine_failed(exc, batch)
        governor.tick()
        time.sleep(0.01)


def test_a_thermal_fallback_parks_the_primary_and_returns_to_it_warmed_and_probed_not_rebuilt(tmp_path, models):
    built, build_primary = recording_builder(models["primary"], ClosingDetector)

    fallback = []
    zones, processor, governor, published = make(
        tmp_path, models, lambda: fallback.append(ClosingDetector(OnnxRuntimeEngine(models["primary"], threads=1)))
        or fallback[-1], build_primary)
    primary = processor.detector
    try:
        zones.set("tj-thermal", 97.0)
        serve_until(processor, governor, published, "fallback")
        assert processor.detector is fallback[0] and processor.parked is primary and not primary.closed.is_set()
        runs = primary.runs
        zones.set("tj-thermal", 60.0)
        serve_until(processor, governor, published, "recovery")
        assert processor.detector is primary and built == [primary]  # the same engine, never rebuilt
        assert primary.runs >= runs + 2  # warmed up and probed again before traffic returned
        assert fallback[0].closed.is_set() and processor.parked is None
    finally:
        governor.close()
        processor.close()


def test_an_engine_error_fallback_drops_the_failing_primary_and_rebuilds_it_for_the_return(tmp_path, models):
    built, build_primary = recording_builder(models["primary"], FailingDetector)

    zones, processor, governor, published = make(
        tmp_path, models, lambda: Detector(OnnxRuntimeEngine(models["primary"], threads=1)), build_primary)
    try:
        built[0].failing = True
        serve_counting_failures(processor, governor, published, "fallback")
        assert published[0]["reason"].startswith("3 engine errors within 60 s (last: cuda_launch)")
        assert built[0].closed.is_set() and processor.parked is None  # its device memory is given back
        serve_counting_failures(processor, governor, published, "recovery")
        assert len(built) == 2 and processor.detector is built[1] and not built[1].closed.is_set()
    finally:
        governor.close()
        processor.close()


def test_a_lost_gpu_drops_the_parked_primary_and_the_return_rebuilds_it(tmp_path, models):
    built, build_primary = recording_builder(models["primary"], ClosingDetector)

    zones, processor, governor, published = make(
        tmp_path, models, lambda: Detector(OnnxRuntimeEngine(models["primary"], threads=1)), build_primary,
        gpu_load=True)
    load = zones.root / ORIN_JP6_GPU / "load"
    try:
        zones.set("tj-thermal", 97.0)
        serve_until(processor, governor, published, "fallback")
        assert processor.parked is built[0]
        load.unlink()  # the GPU's load node vanished: the GPU is lost
        deadline = time.monotonic() + 10
        while processor.parked is not None:
            assert time.monotonic() < deadline, "the parked primary was not dropped"
            processor.process([next(frames(1, ("cam1",)))])
            governor.tick()
            time.sleep(0.01)
        assert built[0].closed.is_set()
        load.write_text("300\n")
        zones.set("tj-thermal", 60.0)
        serve_until(processor, governor, published, "recovery")
        assert len(built) == 2 and processor.detector is built[1]
        assert published[-1]["reason"] == "primary backend rebuilt, warmed and probed: returning"
    finally:
        governor.close()
        processor.close()
