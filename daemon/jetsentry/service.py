"""The daemon: camera sessions -> batcher -> FrameProcessor -> MQTT, until told to stop."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

from jetsentry.batch import FrameBatcher
from jetsentry.batch.prefetch import PrefetchedBatches
from jetsentry.capture import CameraSession, LatestFrameSlot
from jetsentry.config.models import AppConfig
from jetsentry.health import HealthReporter, ServiceCounters
from jetsentry.infer import Detector
from jetsentry.pipeline import FrameProcessor, PreparedBatch
from jetsentry.publish import MqttPublisher, detections_topic

log = logging.getLogger("jetsentry.service")

# How long one batcher wait lasts before the loop checks for stop and health.
_POLL_S = 0.25


class Service:
    """Owns every stage; `run()` blocks until `stop_event` is set, then shuts down in order:
    cameras first (no new frames), then the publisher (which flushes and says offline)."""

    def __init__(self, cfg: AppConfig, detector: Detector, *, health_interval_s: float = 30.0) -> None:
        self.cfg = cfg
        self.ready = threading.Event()
        cameras = [cam for cam in cfg.cameras if cam.enabled]
        self.sessions = {
            cam.id: CameraSession(cam, cfg.capture, LatestFrameSlot(self.ready)) for cam in cameras
        }
        self.batcher = FrameBatcher(
            {cid: s.slot for cid, s in self.sessions.items()},
            self.ready,
            max_batch=cfg.batching.max_batch,
            max_wait_s=cfg.batching.max_wait_ms / 1e3,
        )
        self.processor = FrameProcessor(
            detector,
            device_id=cfg.device_id,
            tracker=cfg.tracker,
            frame_rates={cam.id: cam.fps_cap for cam in cameras if cam.fps_cap},
        )
        self.publisher = MqttPublisher(cfg.mqtt, cfg.device_id)
        self.topics = {cid: detections_topic(cfg.mqtt.topic_prefix, cfg.device_id, cid) for cid in self.sessions}
        self.counters = ServiceCounters()
        self.health = HealthReporter(self.sessions, self.counters, self.publisher, interval_s=health_interval_s)
        self._detector = detector

    @property
    def prepares_ahead(self) -> bool:
        mode = self.cfg.batching.prepare_ahead
        if mode == "auto":
            cameras = [cam for cam in self.cfg.cameras if cam.enabled]
            return bool(cameras) and not any(cam.realtime for cam in cameras)
        return mode == "on"

    def run(self, stop_event: threading.Event) -> None:
        self.publisher.start()
        for session in self.sessions.values():
            session.start()
        log.info("running: %d camera(s), model %s, backend %s%s", len(self.sessions),
                 self._detector.info.name, self.processor.backend,
                 ", next batch prepared during inference" if self.prepares_ahead else "")
        try:
            if self.prepares_ahead:
                self._run_prepared_ahead(stop_event)
            else:
                while not stop_event.is_set():
                    batch = self.batcher.next_batch(timeout=_POLL_S)
                    if batch:
                        self._process(batch)
                    self.health.maybe_log()
        finally:
            self.shutdown()

    def _run_prepared_ahead(self, stop_event: threading.Event) -> None:
        """Batching and letterboxing in an idle-priority thread, one batch ahead (batch/prefetch.py)."""

        def batches():
            while not stop_event.is_set():
                yield self.batcher.next_batch(timeout=_POLL_S)  # [] now and then: health and stop checks

        with PrefetchedBatches(batches(), self._prepare, idle_priority=True, name="batch-prepare") as prepared:
            for ready in prepared:
                if ready is not None:
                    self._complete(ready)
                self.health.maybe_log()

    def _prepare(self, batch) -> PreparedBatch | None:
        if not batch:
            return None
        try:
            return self.processor.prepare(batch)
        except Exception:  # one bad batch must not stop the daemon
            self._batch_failed(batch)
            return None

    def _complete(self, prepared: PreparedBatch) -> None:
        try:
            results = self.processor.complete(prepared)
        except Exception:
            self._batch_failed(prepared.frames)
            return
        self._publish(results, len(prepared.frames))

    def _batch_failed(self, batch) -> None:
        self.counters.batch_errors += 1
        log.exception("batch of %d frame(s) from %s failed", len(batch), sorted({f.camera_id for f in batch}))

    def _process(self, batch) -> None:
        try:
            results = self.processor.process(batch)
        except Exception:  # one bad batch must not stop the daemon
            self._batch_failed(batch)
            return
        self._publish(results, len(batch))

    def _publish(self, results, frames: int) -> None:
        for result in results:
            self.publisher.publish(self.topics[result.frame.camera_id], result.payload)
        self.counters.batches += 1
        self.counters.frames += frames
        self.counters.messages += len(results)

    def shutdown(self) -> None:
        for session in self.sessions.values():
            session.stop()
        self.publisher.stop()
        self._detector.close()
        log.info("stopped: %d frames processed", self.counters.frames)


def run_service(config_path: Path) -> int:
    """`jetsentry run`: 0 after a clean stop (SIGTERM/SIGINT), 2 for bad config or model."""
    from jetsentry.config import ConfigError, load_config
    from jetsentry.infer import BackendUnavailableError, ModelError, backend_factory
    from jetsentry.logsetup import setup_logging
    from jetsentry.optional import GSTREAMER, require

    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        print(f"{exc.source}: {len(exc.problems)} error(s)")
        for problem in exc.problems:
            print(f"  {problem}")
        return 2
    setup_logging(cfg.logging)
    try:
        require("jetsentry run", GSTREAMER)
        backend_factory(cfg.model.backend)
        detector = Detector.from_config(cfg.model)
    except (ModelError, BackendUnavailableError, ValueError) as exc:
        log.error("model: %s", exc)
        return 2

    stop_event = threading.Event()

    def request_stop(signum, _frame) -> None:
        log.info("received %s, stopping", signal.Signals(signum).name)
        stop_event.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    Service(cfg, detector).run(stop_event)
    return 0
