"""The governor as the daemon builds it from its configuration."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from jetsentry.detector_switch import DetectorSwitch
from jetsentry.governor.runner import Governor
from jetsentry.infer import Detector, EngineOptions
from jetsentry.pipeline import FrameProcessor
from jetsentry.publish import events_topic

log = logging.getLogger("jetsentry.governor")


def fallback_model(cfg):
    """model with the fallback backend and precision (the CPU's INT8 variant where there is one)."""
    fallback = cfg.governor.fallback
    return cfg.model.model_copy(update={"backend": fallback.backend, "precision": fallback.precision})


def build_governor(cfg, processor: FrameProcessor, sessions: Mapping[str, object], publisher,
                   *, extra_monitors=(), classify: Callable[[BaseException], str | None] | None = None,
                   build_primary: Callable[[], Detector] | None = None) -> Governor:
    """The daemon's governor: its monitors, the detector switch and the backend builders
    (``build_primary`` replaces the primary's: a benchmark that wraps its engine)."""
    from jetsentry.health.monitors import MonitorSet, build_monitors
    from jetsentry.health.monitors.engine_errors import classify_engine_error

    monitors = MonitorSet(build_monitors(cfg.governor.monitors.settings()))
    for monitor in extra_monitors:
        monitors.add(monitor)
    options = EngineOptions(max_batch=cfg.batching.max_batch, state_dir=cfg.state_dir)
    processor.set_engine_timeout(cfg.governor.engine_timeout_s)  # the primary's calls; the fallback has none
    processor.copy_failed_pictures = True  # a failed batch's device pictures become host ones, retriable
    fallback = fallback_model(cfg)
    topic = events_topic(cfg.mqtt.topic_prefix, cfg.device_id)
    log.info("governor: fallback %s above %g °C, after %d engine errors within %g s, or when the GPU is lost; "
             "back after %g s at or below %g °C", fallback.backend.type, cfg.governor.t_hot_c,
             cfg.governor.engine_errors, cfg.governor.error_window_s, cfg.governor.cooldown_s, cfg.governor.t_cool_c)
    return Governor(
        cfg,
        switch=DetectorSwitch(processor, warmup_frames=cfg.batching.max_batch),
        monitors=monitors,
        sessions=sessions,
        publish=lambda payload: publisher.publish(topic, payload, qos=1),
        build_primary=build_primary or (lambda: Detector.from_config(cfg.model, options)),
        build_fallback=lambda: Detector.from_config(fallback, options),
        primary_backend=processor.backend,
        fallback_backend=fallback.backend.type,
        classify=classify or classify_engine_error,
    )

