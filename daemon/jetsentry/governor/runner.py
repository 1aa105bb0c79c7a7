"""The daemon's health governor: monitors in, the policies' decisions carried out, events out.

The monitors are sampled every ``interval_s`` on their own thread (health/monitors
MonitorThread), so a slow source never delays a batch.  ``Governor.tick()`` runs on the
inference thread between two batches (the daemon's loop calls it at least every quarter
second): it feeds each new snapshot to the backend policy (governor/policy.py) and the load
shedder (governor/shedding.py), and carries out what they decide:

* a fallback or a return: the other backend is built and warmed (the primary also probed)
  by the detector switch (detector_switch.py) on its own thread while the serving backend
  keeps going; once ready (a returning primary: and the cooldown over), the next tick moves
  traffic at that batch boundary.  After a thermal fallback the primary is parked, alive
  and idle, and on return only warmed and probed again (nothing to rebuild); after engine
  errors, a timeout or a lost GPU it is dropped (its device memory freed) and rebuilt;
* a shedding step: the camera session's load-shedding cap (CameraSession.set_policy_fps_cap).

The primary's engine calls have a deadline (``governor.engine_timeout_s``, infer/deadline.py):
a call that passes it fails the batch with EngineTimeoutError, which falls back at once.

``engine_failed(exc, frames)`` is called by the daemon for each failed batch; errors that
``classify_engine_error`` names as engine errors (CUDA, GPU memory, TensorRT or ONNX Runtime
execution errors, timeouts; not "other") count towards ``engine_errors``, and the primary's
failed batches are held (governor/held_frames.py) until the fallback serves: ``retries()``
hands them back to the daemon then, to be inferred before any newer frame.  Every decision is published as an event
(governor/events.py) and the state is read by the health reporter (``health_part``).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping

from jetsentry.detector_switch import DetectorSwitch
from jetsentry.governor.events import event_payload
from jetsentry.governor.held_frames import HeldFrames
from jetsentry.governor.policy import (THERMAL, Action, BackendPolicy, BackendState, Conditions, Decision,
                                       PolicySettings)
from jetsentry.governor.shedding import LoadShedder, ShedCamera, SheddingSettings, ShedStep
from jetsentry.health.monitors import MonitorThread
from jetsentry.infer import Detector
from jetsentry.publish.message import format_utc_ms

log = logging.getLogger("jetsentry.governor")

PRIMARY = "primary"
FALLBACK = "fallback"
NOT_AN_ENGINE_ERROR = "other"  # classify_engine_error's kind for everything else (a bad frame, a bug)


class Governor:
    def __init__(
        self,
        cfg,  # AppConfig
        *,
        switch: DetectorSwitch,
        monitors,  # MonitorSet
        sessions: Mapping[str, object],  # camera id -> CameraSession
        publish: Callable[[bytes], None],  # sends one event (QoS 1) on the events topic
        build_primary: Callable[[], Detector],
        build_fallback: Callable[[], Detector],
        primary_backend: str,
        fallback_backend: str,
        classify: Callable[[BaseException], str | None],
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        g = cfg.governor
        self._device_id = cfg.device_id
        self._probe = g.probe_before_return
        self.policy = BackendPolicy(PolicySettings(
            t_hot_c=g.t_hot_c, t_cool_c=g.t_cool_c, cooldown_s=g.cooldown_s,
            engine_errors=g.engine_errors, error_window_s=g.error_window_s, prepare_lead_s=g.prepare_lead_s))
        self._engine_timeout_s = g.engine_timeout_s
        s = g.shedding
        self.shedder = LoadShedder(SheddingSettings(
            latency_enter_s=s.latency_enter_s, latency_leave_s=s.latency_leave_s, backlog_enter=s.backlog_enter,
            backlog_leave=s.backlog_leave, step=s.step, min_fps=s.min_fps, step_interval_s=s.step_interval_s,
        ), []) if s.enabled else None
        self._shed_sessions: dict[str, object] = {}  # camera id -> the session the shedder last saw
        self._switch = switch
        self._processor = switch.processor
        self._monitors = monitors
        self._sampler = MonitorThread(monitors, lambda _snapshot: None, interval_s=g.interval_s,
                                      name="governor-monitors", clock=clock)
        self._sessions = sessions
        self._publish = publish
        self._builders = {PRIMARY: build_primary, FALLBACK: build_fallback}
        self._names = {PRIMARY: primary_backend, FALLBACK: fallback_backend}
        self._failed: deque[BaseException] = deque()  # engine errors reported from any thread
        self.held = HeldFrames()
        self._error_window_s = g.error_window_s
        self._serving_fallback = False  # set once traffic moved to the fallback (read from any thread)
        self._classify = classify
        self._clock = clock
        self._wall_clock = wall_clock
        self.backend = primary_backend  # the backend serving now
        self._snapshot = None
        self._mode = "normal"
        self._since = wall_clock()
        self.reason = "primary backend serving"
        self._rates = _RateMeter(clock)
        self._failed_label = FALLBACK  # the switch being prepared, for reporting its failure

    # ---- called by the daemon's loop --------------------------------------------------------

    def tick(self) -> bool:
        """Between two batches: act on a finished switch, read the monitors when due.  True when
        the governor's state changed (the health message should go out now)."""
        now = self._clock()
        changed = False
        while self._failed:
            exc = self._failed.popleft()
            kind = self._classify(exc)
            if kind is not None and kind != NOT_AN_ENGINE_ERROR:
                changed |= self._act(self.policy.engine_error(kind, now, f"{type(exc).__name__}: {exc}"))
        changed |= self._finish_switch(now)
        if self.policy.state is BackendState.PRIMARY and self.held.expire(now - self._error_window_s):
            log.warning("governor: frames of failed batches given up (%d so far): the primary keeps serving",
                        self.held.given_up)
        snapshot = self._sampler.latest
        if snapshot is not None and snapshot is not self._snapshot:
            self._snapshot = snapshot
            temperatures = snapshot.temperatures_c
            hottest = max(temperatures, key=temperatures.get) if temperatures else None
            conditions = Conditions(snapshot.max_temperature_c, hottest, snapshot.gpu_lost)
            # A parked primary on a lost GPU is dropped (rebuilt on return), unless a warm-up may be
            # using it still: then its probe decides.
            if snapshot.gpu_lost and self._processor.parked is not None and self._switch.idle:
                log.warning("governor: GPU lost: the parked primary backend is dropped (it is rebuilt on return)")
                self._processor.drop_parked()
            changed |= self._act(self.policy.observe(conditions, now))
            if self.shedder is not None:
                sessions = dict(self._sessions.items())  # one consistent view: commands change the set
                self._follow_cameras(sessions)
                step = self.shedder.observe(snapshot.latency_s, snapshot.backlog, self._base_rates(sessions, now), now)
                if step is not None:
                    self._apply_shedding(step)
                    changed = True
        return self._update_mode() or changed

    def engine_failed(self, exc: BaseException, frames=(), *, by_previous: bool = False) -> None:
        """A batch of ``frames`` failed with ``exc`` (from any thread: the prefetch thread's
        pre-processing too); the next tick counts it.  The primary's batches failed by an
        engine error are held for the fallback; ``by_previous``: the detector that failed it
        was replaced since (the primary's last batch, inferred after the switch)."""
        self._failed.append(exc)
        by_primary = not self._serving_fallback or by_previous
        if frames and by_primary and self._classify(exc) != NOT_AN_ENGINE_ERROR:
            self.held.hold(frames, self._clock())

    @property
    def paused(self) -> bool:
        """Take no new frames now: the primary is failing and the fallback is being built (a frame
        given to the failing engine would only join the held ones; a camera's slot keeps it), or
        the fallback is being switched in and its retries are not handed out yet (a new frame
        taken then would be published before the held ones)."""
        if not len(self.held) or self._serving_fallback:
            return False
        return self.policy.state is not BackendState.PRIMARY

    def retries(self) -> list:
        """Held batches to infer now (oldest first), once the fallback serves; [] otherwise."""
        if not self._serving_fallback or not len(self.held):
            return []
        batches = self.held.take_all()
        log.info("governor: %d frame(s) of batches the primary failed go to the fallback",
                 sum(len(batch) for batch in batches))
        return batches

    def start(self) -> None:
        """Start sampling the monitors."""
        self._sampler.start()

    def close(self) -> None:
        if self._sampler.running:
            self._sampler.stop()
        self._switch.close()
        self._monitors.close()

    # ---- state for health ------------------------------------------------------------------

    @property
    def mode(self) -> str:
        return self._mode

    def health_part(self) -> dict:
        """The retained health message's ``governor`` part (health/message.py GovernorHealth)."""
        snapshot = self._snapshot
        return {
            "mode": self._mode,
            "backend": self.backend,
            "since": format_utc_ms(self._since),
            "reason": self.reason,
            "temperatures_c": dict(snapshot.temperatures_c) if snapshot is not None else {},
            "gpu_load": snapshot.gpu_load if snapshot is not None else None,
            "gpu_memory_used_bytes": snapshot.gpu_memory_used_bytes if snapshot is not None else None,
            "switches": self.policy.switches,
            "shed_cameras": dict(self.shedder.caps) if self.shedder is not None else {},
        }

    # ---- carrying out decisions ------------------------------------------------------------

    def _act(self, decisions: list[Decision]) -> bool:
        for decision in decisions:
            log.log(logging.WARNING if decision.action is Action.FALL_BACK else logging.INFO,
                    "governor: %s: %s", decision.action.value, decision.reason)
            if decision.action is Action.FALL_BACK:
                self._failed_label = FALLBACK
                self._switch.prepare(self._builders[FALLBACK], label=FALLBACK, probe=False)
            elif decision.action is Action.PREPARE_PRIMARY:
                self._failed_label = PRIMARY
                parked = self._processor.parked
                if parked is not None:  # kept alive since a thermal fallback: warm and probe it again
                    self._switch.prepare(lambda: parked, label=PRIMARY, probe=True, owned=False)
                else:
                    self._switch.prepare(self._builders[PRIMARY], label=PRIMARY, probe=self._probe)
            elif decision.action is Action.CANCEL_PRIMARY:
                self._switch.cancel()
                self._event("return_cancelled", decision.reason, from_backend=self.backend,
                            to_backend=self._names[PRIMARY])
            self.reason = decision.reason
        return bool(decisions)

    def _finish_switch(self, now: float) -> bool:
        outcome = self._switch.poll()
        if outcome is None:
            return False
        label = self._switch.label if outcome is True else self._failed_label
        if outcome is not True:  # the build failed: the serving backend keeps serving
            failed = self.policy.fallback_failed(outcome, now) or self.policy.primary_failed(outcome, now)
            if label == PRIMARY:
                self._processor.drop_parked()  # a parked primary that failed its probe is rebuilt next time
            if label == FALLBACK and self.held.give_up():
                log.warning("governor: %d held frame(s) given up: no fallback to infer them", self.held.given_up)
            for decision in failed:
                self.reason = decision.reason
                log.warning("governor: %s", decision.reason)
                self._event("switch_failed", decision.reason, from_backend=self.backend,
                            to_backend=self._names.get(label))
            return True
        if label == FALLBACK:
            decisions = self.policy.fallback_ready(now)
        else:
            decisions = self.policy.primary_ready(now, rebuilt=self._processor.parked is None)
        if not decisions:
            if label == PRIMARY and self.policy.state is BackendState.RETURNING:
                return False  # ready before the cooldown is over: it waits, warm
            self._switch.cancel()  # the policy moved on meanwhile
            return False
        if label == FALLBACK:  # only a thermal fallback leaves the primary working: keep it for the return
            result = self._switch.commit(keep_previous=self.policy.cause == THERMAL)
        else:
            result = self._switch.commit(engine_timeout_s=self._engine_timeout_s)
        self.backend = result.backend
        self._serving_fallback = label == FALLBACK
        reason = decisions[0].reason
        self._update_mode()
        self.reason = reason
        self._event("fallback" if label == FALLBACK else "recovery", reason,
                    from_backend=result.previous_backend, to_backend=result.backend)
        log.warning("governor: now serving from %s (%s)", result.backend, reason)
        if not result.trackers_kept:
            self._event("trackers_reset", f"{result.backend} has other classes than {result.previous_backend}: "
                        "every camera starts without tracks", from_backend=result.previous_backend,
                        to_backend=result.backend)
        return True

    def _apply_shedding(self, step: ShedStep) -> None:
        session = self._sessions.get(step.camera_id)
        if session is not None:
            session.set_policy_fps_cap(step.fps_cap)
        log.info("governor: %s", step.reason)
        self._update_mode()
        self._event("restore" if step.restores else "shed", step.reason, camera_id=step.camera_id,
                    fps_cap=step.fps_cap)

    def _follow_cameras(self, sessions: dict[str, object]) -> None:
        """The shedder sheds the cameras running now: cameras come and go and change priority
        at run time (MQTT commands), and a replaced session gets the cap shedding holds."""
        if sessions == self._shed_sessions:
            return
        self.shedder.set_cameras([ShedCamera(cid, session.camera.priority) for cid, session in sessions.items()])
        for cid, session in sessions.items():
            cap = self.shedder.caps.get(cid)
            if cap is not None and self._shed_sessions.get(cid) is not session:
                session.set_policy_fps_cap(cap)
        self._shed_sessions = sessions

    def _base_rates(self, sessions: dict[str, object], now: float) -> dict[str, float | None]:
        """Each camera's rate without shedding: its fps_cap, or the rate it hands frames over at."""
        measured = self._rates.update({cid: s.stats.frames for cid, s in sessions.items()}, now)
        return {cid: s.camera.fps_cap or measured.get(cid) for cid, s in sessions.items()}

    def _update_mode(self) -> bool:
        if self.policy.on_fallback:
            mode = "cpu_fallback"
        elif self.shedder is not None and self.shedder.active:
            mode = "shedding"
        else:
            mode = "normal"
        if mode == self._mode:
            return False
        self._mode, self._since = mode, self._wall_clock()
        if mode == "normal":
            self.reason = "primary backend serving every camera at its rate"
        return True

    def _event(self, kind: str, reason: str, **fields) -> None:
        snapshot = self._snapshot
        payload = event_payload(
            device_id=self._device_id, ts=self._wall_clock(), type=kind, reason=reason, mode=self._mode,
            temperatures_c=snapshot.temperatures_c if snapshot is not None else {},
            switches=self.policy.switches, **fields)
        self._publish(payload)


# The span a handover rate is measured over: at 30 frames/s, one frame early or late moves a rate
# over 0.2 s (the shortest monitor interval) by 5 frames/s, over 3 s by 0.3.
RATE_WINDOW_S = 3.0
# No rate before a camera has been read over this span (the shedder assumes one meanwhile).
RATE_MIN_SPAN_S = 1.5


class _RateMeter:
    """Frames per second each camera hands over, from its frame counter over the last
    RATE_WINDOW_S seconds of reads (over every read so far while a camera is newer than that);
    none until its reads span RATE_MIN_SPAN_S."""

    def __init__(self, clock: Callable[[], float], window_s: float = RATE_WINDOW_S) -> None:
        self._clock = clock
        self._window_s = window_s
        self._reads: dict[str, deque[tuple[float, int]]] = {}
        self.rates: dict[str, float] = {}

    def update(self, frames: Mapping[str, int], now: float) -> dict[str, float]:
        for cid in set(self._reads) - set(frames):  # a removed camera: its history goes with it
            del self._reads[cid]
        rates = {}
        for cid, count in frames.items():
            reads = self._reads.setdefault(cid, deque())
            if reads and count < reads[-1][1]:  # a new session under the same id counts from 0
                reads.clear()
            if not reads or now > reads[-1][0]:
                reads.append((now, count))
            # Keep the newest read at or before the window's start, so the span covers the window.
            while len(reads) > 2 and reads[1][0] <= now - self._window_s:
                reads.popleft()
            (then, before), (last, newest) = reads[0], reads[-1]
            if last - then >= RATE_MIN_SPAN_S:
                rates[cid] = (newest - before) / (last - then)
        self.rates = rates
        return self.rates
