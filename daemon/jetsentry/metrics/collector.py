"""The Prometheus collector: every metric is read from the daemon's own counters at scrape time,
except the histograms, which the frame path feeds once per batch (histogram.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
    StateSetMetricFamily,
)

from jetsentry import __version__
from jetsentry.capture.state import SessionState
from jetsentry.health.state import Health
from jetsentry.metrics.histogram import FrameRecorder, HistogramSnapshot
from jetsentry.metrics.sources import GOVERNOR_MODES, DaemonSources, governor_view

CAMERA_STATES = tuple(state.value for state in SessionState)
HEALTH_STATES = tuple(state.value for state in Health)


class DaemonCollector:
    """prometheus_client custom collector (registered with auto_describe off: it has no describe)."""

    def __init__(self, sources: DaemonSources, recorder: FrameRecorder) -> None:
        self._sources = sources
        self._recorder = recorder

    def collect(self) -> Iterator[Metric]:
        src = self._sources
        yield from self._process(src)
        yield from self._cameras(src)
        yield from self._inference(src)
        yield from self._mqtt(src)
        yield from self._backend(src)

    def _process(self, src: DaemonSources) -> Iterator[Metric]:
        info = InfoMetricFamily("jetsentry_build", "The daemon's version, device id and model.")
        info.add_metric([], {"version": __version__, "device_id": src.device_id, "model": src.model,
                             "precision": src.precision})
        yield info
        yield GaugeMetricFamily("jetsentry_start_time_seconds", "When the daemon began serving: model loaded, stages built (Unix time).",
                                value=src.started)
        yield GaugeMetricFamily("jetsentry_uptime_seconds", "Seconds since the daemon began serving.",
                                value=time.monotonic() - src.started_monotonic)
        health = StateSetMetricFamily("jetsentry_health_state", "The daemon's health (ok, degraded, failing).")
        current = src.health.state.current.state.value
        health.add_metric([], {state: state == current for state in HEALTH_STATES})
        yield health
        yield GaugeMetricFamily("jetsentry_health_reasons", "Faults the health state names now.",
                                value=len(src.health.state.current.reasons))

    def _cameras(self, src: DaemonSources) -> Iterator[Metric]:
        labels = ["camera"]
        state = StateSetMetricFamily("jetsentry_camera_state", "Capture session state.", labels=labels)
        counters = {
            "decoded": CounterMetricFamily("jetsentry_camera_frames_decoded", "Frames decoded, before fps_cap.",
                                           labels=labels),
            "frames": CounterMetricFamily("jetsentry_camera_frames_captured",
                                          "Frames capture handed to inference (after fps_cap).", labels=labels),
            "processed": CounterMetricFamily("jetsentry_camera_frames_processed",
                                             "Frames inferred and published.", labels=labels),
            "reconnects": CounterMetricFamily("jetsentry_camera_reconnects", "Connection attempts after the first.",
                                              labels=labels),
            "decode_errors": CounterMetricFamily("jetsentry_camera_decode_errors",
                                                 "Demuxer, parser and decoder errors and warnings.", labels=labels),
            "frames_lost": CounterMetricFamily("jetsentry_camera_frames_lost",
                                               "Frames a file declares that its passes did not decode.",
                                               labels=labels),
            "loops": CounterMetricFamily("jetsentry_camera_file_loops", "File restarts at end of stream.",
                                         labels=labels),
        }
        dropped = CounterMetricFamily("jetsentry_camera_frames_dropped",
                                      "Frames dropped: fps_cap, or busy (replaced before inference took them).",
                                      labels=["camera", "reason"])
        slot = GaugeMetricFamily("jetsentry_camera_slot_frames",
                                 "Frames waiting in the camera's newest-frame slot (0 or 1).", labels=labels)
        processed = self._recorder.processed()
        for camera_id, session in src.sessions.items():
            stats = session.stats
            state.add_metric([camera_id], {name: name == stats.state.value for name in CAMERA_STATES})
            values = {"decoded": stats.decoded, "frames": stats.frames, "processed": processed.get(camera_id, 0),
                      "reconnects": stats.reconnects, "decode_errors": stats.decode_errors,
                      "frames_lost": stats.frames_lost, "loops": stats.loops}
            for key, family in counters.items():
                family.add_metric([camera_id], values[key])
            dropped.add_metric([camera_id, "fps_cap"], stats.dropped_fps_cap)
            dropped.add_metric([camera_id, "busy"], stats.dropped_slot)
            slot.add_metric([camera_id], 1 if session.slot.has_frame() else 0)
        yield state
        yield from counters.values()
        yield dropped
        yield slot

    def _inference(self, src: DaemonSources) -> Iterator[Metric]:
        counters = src.counters
        yield CounterMetricFamily("jetsentry_frames_processed", "Frames inferred and published, all cameras.",
                                  value=counters.frames)
        yield CounterMetricFamily("jetsentry_batches", "Inference batches published.", value=counters.batches)
        yield CounterMetricFamily("jetsentry_batches_failed", "Inference batches that failed.",
                                  value=counters.batch_errors)
        yield GaugeMetricFamily("jetsentry_batches_failed_consecutive",
                                "Batches failed since the last one that succeeded.",
                                value=counters.consecutive_batch_errors)
        prefetch = src.prefetch
        yield GaugeMetricFamily("jetsentry_prefetch_batches",
                                "Prepared batches waiting for inference (0 or 1; 0 without prepare_ahead).",
                                value=prefetch.waiting if prefetch is not None else 0)
        snap = self._recorder.snapshot()
        yield _histogram("jetsentry_batch_stage_duration_seconds",
                         "Time a batch spends in a stage, observed once per batch: preprocess (colour conversion "
                         "and letterbox), inference, postprocess (head decoding and NMS), publish (handing the "
                         "messages to the MQTT outbox).", "stage", snap.batch_stages)
        yield _histogram("jetsentry_frame_stage_duration_seconds",
                         "Time a frame spends in a stage, observed per frame: batch_wait (from capture handing it "
                         "over to its batch being formed), tracking.", "stage", snap.frame_stages)
        yield _histogram("jetsentry_frame_latency_seconds",
                         "From capture handing a frame over to its message being in the MQTT outbox.",
                         None, {"": snap.frame_latency})
        yield _histogram("jetsentry_batch_frames", "Frames per inference batch.", None, {"": snap.batch_size})

    def _mqtt(self, src: DaemonSources) -> Iterator[Metric]:
        stats = src.publisher.stats()
        yield GaugeMetricFamily("jetsentry_mqtt_connected", "1 while connected to the broker.",
                                value=1 if stats.connected else 0)
        yield GaugeMetricFamily("jetsentry_mqtt_outbox_messages",
                                "Messages not yet acknowledged by the broker (waiting plus in flight).",
                                value=stats.queued)
        yield GaugeMetricFamily("jetsentry_mqtt_outbox_bytes",
                                "Topic plus payload bytes of the messages not yet acknowledged.",
                                value=stats.outbox_bytes)
        yield GaugeMetricFamily("jetsentry_mqtt_in_flight_messages",
                                "Messages sent to the broker, awaiting acknowledgement.", value=stats.in_flight)
        yield GaugeMetricFamily("jetsentry_mqtt_outbox_capacity_messages",
                                "Messages the outbox holds before dropping the oldest (mqtt.queue_max for the "
                                "memory outbox, mqtt.outbox_max_messages for the disk outbox).",
                                value=src.outbox_capacity)
        if src.outbox_capacity_bytes is not None:
            yield GaugeMetricFamily("jetsentry_mqtt_outbox_capacity_bytes",
                                    "Bytes the disk outbox holds before dropping the oldest detections "
                                    "(mqtt.outbox_max_bytes).", value=src.outbox_capacity_bytes)
        yield CounterMetricFamily("jetsentry_mqtt_messages_sent", "Messages the broker acknowledged.",
                                  value=stats.sent)
        dropped = CounterMetricFamily("jetsentry_mqtt_messages_dropped",
                                      "Messages dropped: overflow (oldest, memory outbox full), quota (oldest "
                                      "detections, disk outbox at its quota), rejected (the MQTT "
                                      "client refused to publish them).", labels=["reason"])
        dropped.add_metric(["overflow"], stats.dropped_overflow)
        dropped.add_metric(["quota"], stats.dropped_quota)
        dropped.add_metric(["rejected"], stats.dropped_rejected)
        yield dropped
        yield CounterMetricFamily("jetsentry_mqtt_connects", "Successful connections to the broker.",
                                  value=stats.connects)
        yield CounterMetricFamily("jetsentry_mqtt_reconnects", "Connection attempts after the first.",
                                  value=stats.reconnects)

    def _backend(self, src: DaemonSources) -> Iterator[Metric]:
        governor = governor_view(src.health.latest)
        backend = InfoMetricFamily("jetsentry_backend", "The inference backend in use.")
        backend.add_metric([], {"backend": (governor and governor.backend) or src.backend})
        yield backend
        if governor is None:
            return
        if governor.mode is not None:
            mode = StateSetMetricFamily("jetsentry_governor_mode", "The health governor's mode.")
            mode.add_metric([], {name: name == governor.mode for name in GOVERNOR_MODES})
            yield mode
        if governor.switches is not None:
            yield CounterMetricFamily("jetsentry_backend_switches", "Backend switches by the health governor.",
                                      value=governor.switches)
        temperatures = GaugeMetricFamily("jetsentry_temperature_celsius", "Temperatures the governor reads.",
                                         labels=["sensor"])
        for sensor, celsius in sorted(governor.temperatures_c.items()):
            temperatures.add_metric([sensor], celsius)
        yield temperatures
        if governor.gpu_load is not None:
            yield GaugeMetricFamily("jetsentry_gpu_utilization_ratio", "GPU utilisation, 0 to 1.",
                                    value=governor.gpu_load)
        if governor.gpu_memory_used_bytes is not None:
            yield GaugeMetricFamily("jetsentry_gpu_memory_used_bytes", "GPU memory in use.",
                                    value=governor.gpu_memory_used_bytes)
        shed = GaugeMetricFamily("jetsentry_camera_shed_fps",
                                 "Frame rate the governor limits a camera to while shedding load.", labels=["camera"])
        for camera_id, fps in sorted(governor.shed_cameras.items()):
            shed.add_metric([camera_id], fps)
        yield shed


def _histogram(name: str, documentation: str, label: str | None,
               snapshots: dict[str, HistogramSnapshot]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=[label] if label else None)
    for value, snap in snapshots.items():
        family.add_metric([value] if label else [], snap.cumulative(), sum_value=snap.total)
    return family
