"""Load shedding: lower per-camera frame rates while inference falls behind, restore them after.

A pure policy like governor/policy.py: ``observe`` takes the pipeline's latency and backlog
and ``now``, and returns at most one step, so each step's effect shows in the readings
before the next (``step_interval_s`` apart).  A step multiplies one camera's frame rate by
``step`` (never below ``min_fps``): the lowest-priority camera first, down to ``min_fps``,
then the next.  Undoing goes the other way: the highest-priority shed camera first, its
rate divided by ``step`` until it is back at its own rate, where the cap is lifted.
Entering needs latency or backlog above its enter level, undoing needs both below their
leave levels: between the two nothing changes (the hysteresis).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# A camera's rate before shedding when neither its fps_cap nor a measurement gives one.
ASSUMED_FPS = 30.0


@dataclass(frozen=True)
class SheddingSettings:
    latency_enter_s: float
    latency_leave_s: float
    backlog_enter: int
    backlog_leave: int
    step: float
    min_fps: float
    step_interval_s: float

    def __post_init__(self) -> None:
        if not 0 < self.step < 1:
            raise ValueError(f"step must be within (0, 1), got {self.step}")
        if self.latency_leave_s >= self.latency_enter_s or self.backlog_leave >= self.backlog_enter:
            raise ValueError("the leave levels must be below the enter levels")


@dataclass(frozen=True)
class ShedStep:
    camera_id: str
    fps_cap: float | None  # the camera's cap from now on; None: shedding lifted for it
    previous: float  # its rate before this step
    reason: str

    @property
    def restores(self) -> bool:
        return self.fps_cap is None or self.fps_cap > self.previous


@dataclass(frozen=True)
class ShedCamera:
    camera_id: str
    priority: int


class LoadShedder:
    """``cameras`` in configuration order, with their priorities."""

    def __init__(self, settings: SheddingSettings, cameras: Sequence[ShedCamera]) -> None:
        self.settings = settings
        self.caps: dict[str, float] = {}  # camera id -> the cap shedding holds it at
        self._base: dict[str, float] = {}  # camera id -> its rate when first shed
        self._last_step = -float("inf")
        self.set_cameras(cameras)

    def set_cameras(self, cameras: Sequence[ShedCamera]) -> None:
        """The cameras now running (added or removed at run time, a priority changed), in the
        order they were configured or added; a camera gone takes its cap with it."""
        order = {camera.camera_id: index for index, camera in enumerate(cameras)}
        # Shed first: lowest priority, then the later camera in the configuration.
        self._shed_order = sorted(cameras, key=lambda c: (c.priority, -order[c.camera_id]))
        for gone in set(self.caps) - set(order):
            del self.caps[gone]
            self._base.pop(gone, None)

    @property
    def active(self) -> bool:
        return bool(self.caps)

    def observe(
        self, latency_s: float | None, backlog: int | None, rates: Mapping[str, float | None], now: float
    ) -> ShedStep | None:
        """One step or None.  ``rates``: each camera's frame rate without shedding (its fps_cap
        or what it delivers), read when the camera is first shed."""
        s = self.settings
        if now - self._last_step < s.step_interval_s:
            return None
        over = []
        if latency_s is not None and latency_s > s.latency_enter_s:
            over.append(f"latency {latency_s:.2f} s above {s.latency_enter_s:g} s")
        if backlog is not None and backlog > s.backlog_enter:
            over.append(f"backlog {backlog} frames above {s.backlog_enter}")
        if over:
            step = self._shed("; ".join(over), rates)
        elif self.caps and (latency_s is None or latency_s < s.latency_leave_s) and (
                backlog is None or backlog <= s.backlog_leave):
            step = self._restore(_recovered_text(latency_s, backlog, s))
        else:
            step = None
        if step is not None:
            self._last_step = now
        return step

    def _shed(self, why: str, rates: Mapping[str, float | None]) -> ShedStep | None:
        s = self.settings
        for camera in self._shed_order:
            cid = camera.camera_id
            current = self.caps.get(cid)
            if current is None:
                current = rates.get(cid) or ASSUMED_FPS
            if current <= s.min_fps:
                continue
            self._base.setdefault(cid, current)
            cap = max(s.min_fps, current * s.step)
            self.caps[cid] = cap
            return ShedStep(cid, cap, current, f"{why}: camera {cid} {current:g} -> {cap:g} fps")
        return None  # every camera is at min_fps already

    def _restore(self, why: str) -> ShedStep:
        shed = [c for c in reversed(self._shed_order) if c.camera_id in self.caps]
        cid = shed[0].camera_id
        current = self.caps[cid]
        raised = current / self.settings.step
        if raised >= self._base[cid]:
            del self.caps[cid]
            base = self._base.pop(cid)
            return ShedStep(cid, None, current, f"{why}: camera {cid} {current:g} fps -> its own {base:g} fps")
        self.caps[cid] = raised
        return ShedStep(cid, raised, current, f"{why}: camera {cid} {current:g} -> {raised:g} fps")


def _recovered_text(latency_s: float | None, backlog: int | None, s: SheddingSettings) -> str:
    parts = []
    if latency_s is not None:
        parts.append(f"latency {latency_s:.2f} s below {s.latency_leave_s:g} s")
    if backlog is not None:
        parts.append(f"backlog {backlog} at most {s.backlog_leave}")
    return "recovered (" + ("; ".join(parts) or "no load reading") + ")"
