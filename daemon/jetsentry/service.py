"""The daemon: camera sessions -> batcher -> FrameProcessor -> MQTT, until told to stop."""

from __future__ import annotations

import logging
import sys
import threading
import time
from pathlib import Path

import numpy as np

from jetsentry.batch import FrameBatcher
from jetsentry.batch.prefetch import PrefetchedBatches
from jetsentry.capture.camera_set import CameraSet
from jetsentry.commands.camera_state import CameraState, with_camera_changes
from jetsentry.commands.wiring import build_command_worker
from jetsentry.config.models import AppConfig
from jetsentry.config.source_uri import mask_uri
from jetsentry.health import HealthReporter, HealthState, RepeatedFailureLog, ServiceCounters, exception_summary
from jetsentry.infer import Detector
from jetsentry.metrics import DaemonSources, metrics_for
from jetsentry.pipeline import FrameProcessor, PreparedBatch
from jetsentry.publish import MqttPublisher, detections_topic, health_topic, next_run, open_outbox
from jetsentry.signals import StopRequest
from jetsentry.snapshot import Snapshots
from jetsentry.supervision import Supervisor, process_notifier

log = logging.getLogger("jetsentry.service")

# How long one batcher wait lasts before the loop checks for stop and health.
_POLL_S = 0.25
# After a switch (or while a failing primary is being replaced), how often the loop looks
# whether it may take new frames again: a short wait, so traffic resumes at once.
_DRAIN_POLL_S = 0.002


class Service:
    """Owns every stage; `run()` blocks until a stop is requested or health has been failing
    for `health.exit_after_failing_s`, then shuts down in order: cameras first (no new
    frames), then the publisher (which flushes and says offline)."""

    def __init__(self, cfg: AppConfig, detector: Detector, camera_state: CameraState | None = None) -> None:
        """OutboxError when the state directory cannot hold the run counter or the disk outbox.

        camera_state: the cameras changed by commands, applied to cfg already (run_service);
        None: read from the state directory and applied here."""
        if camera_state is None:
            cfg, camera_state = with_camera_changes(cfg)
        self.cfg = cfg
        outbox = open_outbox(cfg.mqtt, cfg.state_dir)  # first: a refused second daemon raises no run
        self.run_number = next_run(cfg.state_dir)
        self.ready = threading.Event()
        cameras = [cam for cam in cfg.cameras if cam.enabled]
        gpu = getattr(detector.engine, "device", None)  # a GPU backend: NVDEC may decode into its memory
        self.cameras = CameraSet(cfg.cameras, cfg.capture, self.ready, gpu_engine=gpu is not None,
                                 device=getattr(gpu, "index", 0))
        self.sessions = self.cameras.sessions
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
            run=self.run_number,
        )
        self.publisher = MqttPublisher(cfg.mqtt, cfg.device_id, outbox=outbox)
        # Kept for removed cameras too: their last frames may still be in flight.
        self.topics = {cid: detections_topic(cfg.mqtt.topic_prefix, cfg.device_id, cid) for cid in self.sessions}
        self.counters = ServiceCounters()
        self.snapshots = Snapshots(self.processor.latest, self.sessions, cfg.commands.snapshot_quality)
        self.governor = None
        if cfg.governor_enabled:
            from jetsentry.governor.wiring import build_governor

            from jetsentry.health.monitors import PipelineMonitor, PublishLatency

            self.publish_latency = PublishLatency()
            slots = {cid: session.slot for cid, session in self.sessions.items()}
            self.governor = build_governor(cfg, self.processor, self.sessions, self.publisher,
                                           extra_monitors=[PipelineMonitor(slots, self.publish_latency)])
        self.health = HealthReporter(
            self.sessions, self.counters, self.publisher,
            HealthState(failing_after_batches=cfg.health.failing_after_batches, recent_s=cfg.health.interval_s),
            device_id=cfg.device_id, topic=health_topic(cfg.mqtt.topic_prefix, cfg.device_id),
            interval_s=cfg.health.interval_s,
            governor=self.governor.health_part if self.governor is not None else None,
        )
        self.metrics = metrics_for(cfg.metrics, DaemonSources(
            device_id=cfg.device_id, sessions=self.sessions, counters=self.counters, publisher=self.publisher,
            health=self.health, backend=self.processor.backend, model=detector.info.name,
            precision=detector.info.precision, max_batch=cfg.batching.max_batch,
            outbox_capacity=cfg.mqtt.queue_max if cfg.mqtt.outbox == "memory" else cfg.mqtt.outbox_max_messages,
            outbox_capacity_bytes=None if cfg.mqtt.outbox == "memory" else cfg.mqtt.outbox_max_bytes,
            snapshots=self.snapshots))
        # Heartbeats of every stage, READY/STATUS/STOPPING and the watchdog (supervision/).
        self.supervisor = Supervisor(self.sessions, self.batcher, self.publisher, self.counters, self.health.state)
        self._failures = RepeatedFailureLog(log, interval_s=cfg.health.error_log_interval_s)
        self.cameras.watch(self._camera_started, self._camera_stopped)
        self.commands = build_command_worker(self, camera_state) if cfg.commands.enabled else None
        self._detector = detector
        self._exit_code: int | None = None  # set when the daemon stops itself
        self._started = False

    @property
    def prepares_ahead(self) -> bool:
        mode = self.cfg.batching.prepare_ahead
        if mode == "auto":
            cameras = [cam for cam in self.cfg.cameras if cam.enabled]
            return bool(cameras) and not any(cam.realtime for cam in cameras)
        return mode == "on"

    def run(self, stop: StopRequest) -> int:
        """Serve until stopped; 0 after a requested stop, 1 after failing too long."""
        if stop.is_set():  # asked to stop while the stages were being built
            status = _stopped_during_start_up(stop)
            self.shutdown()
            return status
        self._warm_up()
        if self.commands is not None:
            self.commands.start()
        self.publisher.start()
        self._started = True
        self.metrics.start()
        if self.governor is not None:
            self.governor.start()
        self.cameras.start_all()
        self.supervisor.ready()
        log.info("running: %d camera(s), model %s (%s), backend %s, run %d, %s outbox%s", len(self.sessions),
                 self._detector.info.name, self._detector.info.precision, self.processor.backend, self.run_number,
                 self.cfg.mqtt.outbox,
                 ", next batch prepared during inference" if self.prepares_ahead else "")
        try:
            self.health.check(force=True)
            if self.prepares_ahead:
                self._run_prepared_ahead(stop)
            else:
                while self._keeps_running(stop):
                    for held in self._retries():
                        self._process(held)
                    if self._paused():
                        time.sleep(_DRAIN_POLL_S)
                        continue
                    batch = self.batcher.next_batch(timeout=_POLL_S)
                    if batch:
                        self._process(batch)
            if stop.is_set():
                log.info("received %s, stopping", stop.reason)
        finally:
            self.shutdown(stop.reason or "health failing for too long")
        return self._exit_code or 0

    def _warm_up(self) -> None:
        """One inference on a blank picture before READY=1, so the first frames do not wait for
        what an engine sets up on its first run (ONNX Runtime's arenas, CUDA kernels).  A failure
        is logged and the daemon goes on: its batches fail alike, and health reports them."""
        self.supervisor.status("warming up the engine")
        size = self.cfg.model.input_size
        try:
            self._detector.detect([np.zeros((size, size, 3), np.uint8)])
        except Exception:
            log.warning("model: the warm-up inference failed (%s); failing batches are reported in health",
                        exception_summary())

    def _keeps_running(self, stop: StopRequest) -> bool:
        """Health bookkeeping between batches; False once a stop is requested or health has been
        failing for longer than allowed."""
        self.supervisor.engine.beat()  # the inference loop turns, with or without batches
        if stop.is_set() or self._exit_code is not None:
            return False
        if self.governor is not None and self.governor.tick():
            self.health.check(force=True)  # a switch or shedding step: the retained message now
        self.health.check()
        limit = self.cfg.health.exit_after_failing_s
        failing_for = self.health.state.failing_for()
        if limit is not None and failing_for > 0 and failing_for >= limit:
            reasons = "; ".join(str(r) for r in self.health.state.current.reasons)
            log.error("health has been failing for %.0f s (%s): exiting with status 1 (health.exit_after_failing_s)",
                      failing_for, reasons)
            self._exit_code = 1
            return False
        return True

    def _run_prepared_ahead(self, stop: StopRequest) -> None:
        """Batching and letterboxing in an idle-priority thread, one batch ahead (batch/prefetch.py).

        Tracking and messages stay in this thread: finishing them in a third thread, behind
        the next inference (batch/finisher.py), measured slower at 16 GPU streams, where the
        threads contend for the interpreter (docs/PERFORMANCE.md, the GPU path)."""

        def batches():
            while not stop.is_set() and self._exit_code is None:
                # After a switch the previous detector's batch goes first; while the failing primary
                # is being replaced no frame is taken.
                if self.processor.draining or self._paused():
                    time.sleep(_DRAIN_POLL_S)
                    yield []
                    continue
                held = self._retries()
                if held:  # batches the failing primary could not infer, before newer frames
                    yield from held
                    continue
                yield self.batcher.next_batch(timeout=_POLL_S)  # [] now and then: health and stop checks

        with PrefetchedBatches(batches(), self._prepare, idle_priority=True, name="batch-prepare") as prepared:
            self.metrics.watch_prefetch(prepared)
            for ready in prepared:
                if ready is not None:
                    self._complete(ready)
                if not self._keeps_running(stop):
                    break

    def _paused(self) -> bool:
        return self.governor is not None and self.governor.paused

    def _retries(self) -> list:
        """Batches the failing primary could not infer, once the fallback serves them (governor)."""
        return self.governor.retries() if self.governor is not None else []

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
            self._batch_failed(prepared.frames, by_previous=not self.processor.prepared_by_current(prepared))
            return
        self._publish(results, len(prepared.frames))

    def _batch_failed(self, batch, *, by_previous: bool = False) -> None:
        """Count and log (rate-limited) a failed batch; call from the `except` block.
        by_previous: a detector replaced since prepared and inferred it (its failure is not the
        serving one's)."""
        self.counters.batch_failed(exception_summary())
        if self.governor is not None:
            self.governor.engine_failed(sys.exc_info()[1], batch, by_previous=by_previous)
        self._failures.failed(f"batch of {len(batch)} frame(s) from {sorted({f.camera_id for f in batch})} failed")

    def _process(self, batch) -> None:
        try:
            results = self.processor.process(batch)
        except Exception:  # one bad batch must not stop the daemon
            self._batch_failed(batch)
            return
        self._publish(results, len(batch))

    def _publish(self, results, frames: int) -> None:
        started = time.monotonic()
        for result in results:
            self.publisher.publish(self.topics[result.frame.camera_id], result.payload)
        if self.governor is not None and results:
            oldest = min(result.frame.received_monotonic for result in results)
            self.publish_latency.record(time.monotonic(), oldest, len(results))
        self.counters.batch_done(frames, len(results))
        self.metrics.batch_published(results, started)
        self._failures.succeeded("inference works")

    def _camera_started(self, session) -> None:
        """A camera session started at run time (commands/): the stages that know the cameras learn it."""
        camera_id = session.camera_id
        self.topics.setdefault(camera_id, detections_topic(self.cfg.mqtt.topic_prefix, self.cfg.device_id, camera_id))
        if session.camera.fps_cap:
            self.processor.set_frame_rate(camera_id, session.camera.fps_cap)
        self.supervisor.watch_camera(session)
        self.batcher.add_source(camera_id, session.slot)

    def _camera_stopped(self, session) -> None:
        self.batcher.remove_source(session.camera_id)
        self.supervisor.forget_camera(session)
        self.processor.forget_camera(session.camera_id)

    def status(self) -> dict:
        """The `status` command's result: cameras, health, broker."""
        sessions = self.sessions
        cameras = {}
        for camera_id, camera in self.cameras.configs.items():
            session = sessions.get(camera_id)
            stats = session.stats if session is not None else None
            cameras[camera_id] = {
                "enabled": camera.enabled, "source": mask_uri(camera.source), "fps_cap": camera.fps_cap,
                "state": stats.state.value if stats else "disabled", "frames": stats.frames if stats else 0,
                "last_error": stats.last_error if stats else None,
                "policy_fps_cap": session.policy_fps_cap if session is not None else None,
            }
        current = self.health.state.current
        publisher = self.publisher.stats()
        return {"run": self.run_number, "cameras": cameras,
                "health": {"state": current.state.value, "reasons": [str(r) for r in current.reasons]},
                "mqtt": {"connected": publisher.connected, "queued": publisher.queued},
                "frames": self.counters.frames, "backend": self.processor.backend}

    def shutdown(self, reason: str = "shutting down") -> None:
        self.supervisor.stopping(reason)
        if self.commands is not None:
            self.commands.stop()  # no camera change while the cameras stop
        self.cameras.stop_all()
        if self._started:
            self.health.check(force=True)  # the final counters, retained
        if self.governor is not None:
            self.governor.close()
        self.publisher.stop()
        self.metrics.stop()
        self.processor.close()
        log.info("stopped: %d frames processed", self.counters.frames)


def run_service(config_path: Path, stop: StopRequest) -> int:
    """`jetsentry run`: 0 after a clean stop (SIGTERM, SIGINT, SIGHUP, also during start-up),
    1 after health failing for `health.exit_after_failing_s`, 2 for bad config or model.

    `stop` has its handlers installed already (cli.py does it before importing this module).
    """
    from jetsentry.config import ConfigError, load_config, report_config_error
    from jetsentry.infer import BackendUnavailableError, EngineOptions, GpuError, ModelError, backend_factory
    from jetsentry.logsetup import setup_logging
    from jetsentry.optional import GSTREAMER, require
    from jetsentry.publish import OutboxError

    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        report_config_error(exc)
        return 2
    setup_logging(cfg.logging)
    cfg, camera_state = with_camera_changes(cfg)  # the cameras as commands left them
    if stop.is_set():
        return _stopped_during_start_up(stop)
    try:
        if not all((cam.decoder or cfg.capture.decoder).strip() == "nvdec" for cam in cfg.cameras if cam.enabled):
            require("jetsentry run", GSTREAMER)  # only cameras all on NVDEC run without it
        backend_factory(cfg.model.backend)
        process_notifier().status(f"loading model {cfg.model.path.name}")
        detector = Detector.from_config(
            cfg.model, EngineOptions(max_batch=cfg.batching.max_batch, state_dir=cfg.state_dir))
    except (ModelError, BackendUnavailableError, ValueError) as exc:
        log.error("model: %s", exc)
        return 2
    except GpuError as exc:  # the device failed or cannot hold the engine: not a configuration problem
        log.error("model: %s", exc)
        return 1
    if stop.is_set():
        detector.close()
        return _stopped_during_start_up(stop)
    try:
        service = Service(cfg, detector, camera_state)
    except OutboxError as exc:
        log.error("mqtt: %s", exc)
        detector.close()
        return 2
    status = service.run(stop)
    if stop.repeats:
        log.info("ignored %s while stopping", ", ".join(stop.repeats))
    return status


def _stopped_during_start_up(stop: StopRequest) -> int:
    process_notifier().stopping(f"stopping: {stop.reason} during start-up")
    log.info("received %s during start-up, stopping", stop.reason)
    return 0
