"""The daemon's health, in one place: ok, degraded or failing, with the reasons why.

Facts about the stages go in (`HealthState.update(StageFacts)`); the state, its reasons and
since when it holds come out (`HealthState.current`).  Every change of state is returned as
a `HealthChange` with one reason string.  The retained MQTT health message, the exit after
prolonged failure and whatever else watches the daemon read the state here.

Rules (each matching rule adds one reason; the worst rule sets the state):
- failing: every enabled camera FAILED (or none is enabled); or at least
  ``failing_after_batches`` inference batches failed in a row.
- degraded: some camera FAILED, RECOVERING or reconnecting; a camera had decode errors in the
  last ``recent_s`` seconds; an inference batch failed (fewer in a row than the failing
  threshold); the MQTT broker is unreachable; the health governor sheds load or serves from
  its fallback backend.
- ok: none of these.  A camera that STOPPED (a file at its end with ``on_eos: stop``) is not
  a fault.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


class Health(str, enum.Enum):
    OK = "ok"
    DEGRADED = "degraded"
    FAILING = "failing"


_RANK = {Health.OK: 0, Health.DEGRADED: 1, Health.FAILING: 2}


@dataclass(frozen=True)
class CameraFacts:
    state: str  # SessionState value: idle, connecting, streaming, recovering, stopped, failed
    reconnects: int = 0
    decode_errors: int = 0  # since the daemon started
    last_error: str | None = None


@dataclass(frozen=True)
class StageFacts:
    """What each stage reports at one moment."""

    cameras: Mapping[str, CameraFacts]  # enabled cameras only
    consecutive_batch_failures: int = 0
    last_batch_error: str | None = None
    broker_unreachable: bool = False  # a connection attempt failed or the connection was lost
    governor_mode: str = "normal"  # normal, shedding or cpu_fallback (governor/runner.py)
    governor_reason: str = ""


@dataclass(frozen=True)
class Reason:
    subject: str  # what is affected: "camera gate", "cameras", "inference", "mqtt"
    state: Health  # how bad this one is
    detail: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.detail}"


@dataclass(frozen=True)
class HealthStatus:
    state: Health
    reasons: tuple[Reason, ...]
    since: float  # wall clock (epoch seconds) when this state began
    since_monotonic: float

    @property
    def subjects(self) -> frozenset[str]:
        return frozenset(r.subject for r in self.reasons)


@dataclass(frozen=True)
class HealthChange:
    previous: Health
    state: Health
    reason: str  # why: the reasons of the new state, or what was resolved
    at: float  # wall clock (epoch seconds)

    @property
    def worse(self) -> bool:
        return _RANK[self.state] > _RANK[self.previous]


class HealthState:
    """Current health from successive `StageFacts`.

    `update` is called from one thread (the daemon's loop); `current` and `failing_for`
    may be read from any thread (the status is an immutable object, swapped whole).
    """

    def __init__(
        self,
        *,
        failing_after_batches: int = 5,
        recent_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if failing_after_batches < 1:
            raise ValueError(f"failing_after_batches must be >= 1, got {failing_after_batches}")
        self._failing_after = failing_after_batches
        self._recent_s = recent_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._decode_errors: dict[str, tuple[int, float]] = {}  # camera -> (count, when it last grew)
        self.current = HealthStatus(Health.OK, (), wall_clock(), clock())

    def update(self, facts: StageFacts) -> HealthChange | None:
        """Assess `facts`; the change when the state differs from the previous one, else None."""
        now = self._clock()
        reasons = tuple(self._camera_reasons(facts.cameras, now) + self._inference_reasons(facts))
        if facts.broker_unreachable:
            reasons += (Reason("mqtt", Health.DEGRADED, "broker unreachable; messages wait in the outbox"),)
        if facts.governor_mode != "normal":
            reasons += (Reason("governor", Health.DEGRADED, f"{facts.governor_mode}: {facts.governor_reason}"),)
        state = max((r.state for r in reasons), key=_RANK.__getitem__, default=Health.OK)
        previous = self.current
        if state == previous.state:
            self.current = HealthStatus(state, reasons, previous.since, previous.since_monotonic)
            return None
        wall = self._wall_clock()
        self.current = HealthStatus(state, reasons, wall, now)
        if reasons:
            why = "; ".join(str(r) for r in reasons if r.state == state)
        else:
            why = "resolved: " + "; ".join(str(r) for r in previous.reasons)
        return HealthChange(previous.state, state, why, wall)

    def failing_for(self) -> float:
        """Seconds the state has been failing without a break; 0.0 when it is not failing."""
        status = self.current
        return self._clock() - status.since_monotonic if status.state is Health.FAILING else 0.0

    def _camera_reasons(self, cameras: Mapping[str, CameraFacts], now: float) -> list[Reason]:
        if not cameras:
            return [Reason("cameras", Health.FAILING, "no camera is enabled")]
        failed = {cid: cam for cid, cam in cameras.items() if cam.state == "failed"}
        if len(failed) == len(cameras):
            listed = "; ".join(f"{cid} ({cam.last_error or 'failed'})" for cid, cam in failed.items())
            return [Reason("cameras", Health.FAILING, f"no working camera, every camera failed: {listed}")]
        reasons = []
        for camera_id, cam in cameras.items():
            subject = f"camera {camera_id}"
            error = f": {cam.last_error}" if cam.last_error else ""
            if cam.state == "failed":
                reasons.append(Reason(subject, Health.DEGRADED, f"failed{error}"))
            elif cam.state == "recovering" or (cam.state == "connecting" and cam.reconnects):
                reasons.append(Reason(subject, Health.DEGRADED, f"reconnecting{error}"))
            if self._decode_errors_recent(camera_id, cam.decode_errors, now):
                reasons.append(Reason(f"{subject} decoding", Health.DEGRADED,
                                      f"decode errors within the last {self._recent_s:g} s "
                                      f"({cam.decode_errors} since start)"))
        return reasons

    def _decode_errors_recent(self, camera_id: str, count: int, now: float) -> bool:
        """True while the camera's decode error count grew within the last `recent_s` seconds."""
        seen, grew_at = self._decode_errors.get(camera_id, (0, -float("inf")))
        if count > seen:
            seen, grew_at = count, now
            self._decode_errors[camera_id] = (seen, grew_at)
        return now - grew_at <= self._recent_s

    def _inference_reasons(self, facts: StageFacts) -> list[Reason]:
        failures = facts.consecutive_batch_failures
        if not failures:
            return []
        state = Health.FAILING if failures >= self._failing_after else Health.DEGRADED
        last = f"; last: {facts.last_batch_error}" if facts.last_batch_error else ""
        return [Reason("inference", state, f"{failures} batch(es) failed in a row{last}")]
