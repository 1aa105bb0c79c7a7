"""The governor's backend policy: primary (GPU) or fallback (CPU), as a pure state machine.

No threads and no clocks: every call takes ``now`` (monotonic seconds) and returns the
decisions it makes, each with a reason string.  The daemon's governor (governor/runner.py)
feeds it monitor readings and engine errors, carries out its decisions (build a backend,
move traffic) and reports back what happened.

    PRIMARY --hot / GPU lost / N errors--> FALLING_BACK --fallback warmed--> FALLBACK
       ^                                        | build failed                 |
       |                                        v                              | cool for cooldown_s
       |                                     PRIMARY (retry after RETRY_S)     v
       +--------- primary warmed and probed, cooldown over ------------- RETURNING
                                                  probe failed / hot again: FALLBACK

Hysteresis: the fallback starts above ``t_hot_c`` but the way back opens only once every
reading has stayed at or below ``t_cool_c`` (and the GPU was present) for ``cooldown_s``
without a break, so readings that oscillate around ``t_hot_c`` cause one switch, not one
per crossing; at most one return per cooldown_s follows.

The primary is prepared ``prepare_lead_s`` before the cooldown ends (RETURNING starts then)
and traffic moves once it is ready and the cooldown is over, so the build and warm-up do not
add to the time off the primary.  An engine call that timed out (kind ``timeout``) counts as
the GPU lost: the fallback starts at once, not after ``engine_errors``.

A primary that fails again (engine errors, a timeout, the GPU lost) within one cooldown of its
return is on a flapping course: a probe batch can pass where real traffic fails (a memory cap
that a single batch fits).  Each such failure doubles the next cooldown, up to
MAX_COOLDOWN_FACTOR times ``cooldown_s``, and says so in the reason; a primary that serves a
whole cooldown after its return brings the cooldown back to ``cooldown_s``.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

# Kinds of engine error (health/monitors/engine_errors.py) that mean the GPU is gone: fall back at once.
LOST_KINDS = frozenset({"timeout"})

# Why the primary was left (BackendPolicy.cause): only a thermal fallback leaves the GPU backend
# working, so only then may it be kept alive for the return.
THERMAL, GPU_LOST, ENGINE_ERRORS, ENGINE_TIMEOUT = "thermal", "gpu_lost", "engine_errors", "engine_timeout"

# After the fallback backend failed to build, the primary keeps serving this long before the
# policy asks again: retrying at every tick would rebuild a broken backend once a second.
RETRY_S = 5.0

# A primary that keeps failing soon after each return waits at most this many cooldowns.
MAX_COOLDOWN_FACTOR = 8


class BackendState(str, enum.Enum):
    PRIMARY = "primary"  # the primary backend serves
    FALLING_BACK = "falling_back"  # the fallback is being built and warmed; the primary serves
    FALLBACK = "fallback"  # the fallback serves
    RETURNING = "returning"  # the primary is being rebuilt, warmed and probed; the fallback serves


class Action(str, enum.Enum):
    FALL_BACK = "fall_back"  # build and warm the fallback backend beside the primary
    SWITCH_TO_FALLBACK = "switch_to_fallback"  # it is warm: move traffic to it at the next batch
    PREPARE_PRIMARY = "prepare_primary"  # rebuild, warm and probe the primary beside the fallback
    CANCEL_PRIMARY = "cancel_primary"  # drop the primary being prepared: the cause came back
    SWITCH_TO_PRIMARY = "switch_to_primary"  # it passed: move traffic back at the next batch
    FALLBACK_FAILED = "fallback_failed"  # the fallback could not be built: the primary keeps serving
    PRIMARY_FAILED = "primary_failed"  # the primary failed its rebuild or probe: the fallback keeps serving


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


@dataclass(frozen=True)
class Conditions:
    """What the monitors saw at one moment (None: no monitor gives it)."""

    max_temperature_c: float | None = None
    hottest: str | None = None  # the sensor or zone that read max_temperature_c
    gpu_lost: bool = False


@dataclass(frozen=True)
class PolicySettings:
    t_hot_c: float
    t_cool_c: float
    cooldown_s: float
    engine_errors: int
    error_window_s: float
    retry_s: float = RETRY_S
    prepare_lead_s: float = 0.0  # the primary is prepared this long before the cooldown ends

    def __post_init__(self) -> None:
        if self.t_cool_c >= self.t_hot_c:
            raise ValueError(f"t_cool_c ({self.t_cool_c:g}) must be below t_hot_c ({self.t_hot_c:g})")
        if self.engine_errors < 1:
            raise ValueError(f"engine_errors must be >= 1, got {self.engine_errors}")
        if self.prepare_lead_s < 0:
            raise ValueError(f"prepare_lead_s must be >= 0, got {self.prepare_lead_s:g}")


class BackendPolicy:
    """Decides when inference leaves the primary backend and when it may return."""

    def __init__(self, settings: PolicySettings) -> None:
        self.settings = settings
        self.state = BackendState.PRIMARY
        self.reason = "primary backend serving"
        self.switches = 0  # traffic moves, either way
        self.cause: str | None = None  # why the primary was left last: THERMAL, GPU_LOST, ENGINE_ERRORS, ...
        self._errors: deque[float] = deque()
        self._safe_since: float | None = None  # since when the way back has been open
        self._retry_at = -float("inf")
        self._cooldown_factor = 1  # doubled by each failure soon after a return (module docstring)
        self._returned_at: float | None = None

    @property
    def cooldown_s(self) -> float:
        """The cooldown the next return waits: cooldown_s, longer while the primary flaps."""
        return self.settings.cooldown_s * self._cooldown_factor

    @property
    def on_fallback(self) -> bool:
        """The fallback backend serves (also while the primary is being prepared)."""
        return self.state in (BackendState.FALLBACK, BackendState.RETURNING)

    # ---- inputs --------------------------------------------------------------------------

    def observe(self, conditions: Conditions, now: float) -> list[Decision]:
        if self.state is BackendState.PRIMARY:
            cause = self._cause(conditions)
            if cause is not None and now >= self._retry_at:
                return [self._fall_back(cause, GPU_LOST if conditions.gpu_lost else THERMAL, now)]
            return []
        if self.state is BackendState.FALLING_BACK:
            return []
        unsafe = self._unsafe(conditions)
        if unsafe is not None:
            self._safe_since = None
            if self.state is BackendState.RETURNING:
                self.state = BackendState.FALLBACK
                return [self._decide(Action.CANCEL_PRIMARY, f"return cancelled: {unsafe}")]
            return []
        if self._safe_since is None:
            self._safe_since = now
        lead = min(self.settings.prepare_lead_s, self.cooldown_s)
        if self.state is BackendState.FALLBACK and now - self._safe_since >= self.cooldown_s - lead:
            self.state = BackendState.RETURNING
            why = self._cool_text(conditions)
            return [self._decide(Action.PREPARE_PRIMARY,
                                 f"{why} for {now - self._safe_since:g} s: preparing the primary backend, "
                                 f"traffic returns after {self.cooldown_s:g} s")]
        return []

    def engine_error(self, kind: str, now: float, detail: str = "") -> list[Decision]:
        """An error of the serving engine, classified (``kind`` names it, e.g. gpu_memory;
        ``detail`` says what failed).

        Only the primary's errors count: the fallback's are no reason to leave it.  A kind of
        LOST_KINDS (a timed-out call) falls back at once."""
        if self.state is not BackendState.PRIMARY:
            return []
        if kind in LOST_KINDS and now >= self._retry_at:
            return [self._fall_back(f"engine call timed out, counted as the GPU lost: {detail or kind}",
                                    ENGINE_TIMEOUT, now)]
        window = self.settings.error_window_s
        self._errors.append(now)
        while self._errors and self._errors[0] < now - window:
            self._errors.popleft()
        if len(self._errors) >= self.settings.engine_errors and now >= self._retry_at:
            return [self._fall_back(f"{len(self._errors)} engine errors within {window:g} s (last: {kind})",
                                    ENGINE_ERRORS, now)]
        return []

    # ---- what happened to a decision ------------------------------------------------------

    def fallback_ready(self, now: float) -> list[Decision]:
        """The fallback backend is built and warm."""
        if self.state is not BackendState.FALLING_BACK:
            return []
        self.state = BackendState.FALLBACK
        self._safe_since = None
        self.switches += 1
        return [Decision(Action.SWITCH_TO_FALLBACK, self.reason)]

    def fallback_failed(self, error: str, now: float) -> list[Decision]:
        if self.state is not BackendState.FALLING_BACK:
            return []
        self.state = BackendState.PRIMARY
        self._retry_at = now + self.settings.retry_s
        return [self._decide(Action.FALLBACK_FAILED, f"fallback backend failed, primary keeps serving: {error}")]

    def primary_ready(self, now: float, *, rebuilt: bool = True) -> list[Decision]:
        """The primary backend is rebuilt (or was kept: ``rebuilt`` False), warm and passed its probe
        batch (asked again at each batch boundary while it waits): traffic returns once the
        cooldown is over."""
        if self.state is not BackendState.RETURNING:
            return []
        if self._safe_since is not None and now - self._safe_since < self.cooldown_s:
            return []
        self.state = BackendState.PRIMARY
        self._returned_at = now
        self._errors.clear()
        self.switches += 1
        how = "rebuilt" if rebuilt else "kept alive"
        return [self._decide(Action.SWITCH_TO_PRIMARY, f"primary backend {how}, warmed and probed: returning")]

    def primary_failed(self, error: str, now: float) -> list[Decision]:
        """The rebuilt primary failed (building, warming or its probe): the cooldown starts again."""
        if self.state is not BackendState.RETURNING:
            return []
        self.state = BackendState.FALLBACK
        self._safe_since = now
        return [self._decide(Action.PRIMARY_FAILED, f"primary backend failed its probe, fallback keeps serving: "
                                                    f"{error}")]

    # ---- helpers -------------------------------------------------------------------------

    def _fall_back(self, cause: str, kind: str, now: float) -> Decision:
        since_return = None if self._returned_at is None else now - self._returned_at
        if since_return is not None and since_return < self.cooldown_s:
            if kind != THERMAL and self._cooldown_factor < MAX_COOLDOWN_FACTOR:
                self._cooldown_factor *= 2
            if kind != THERMAL:
                cause += (f"; the primary failed again {since_return:.1f} s after its return: "
                          f"the next cooldown is {self.cooldown_s:g} s")
        else:
            self._cooldown_factor = 1
        self.state = BackendState.FALLING_BACK
        self.cause = kind
        self._errors.clear()
        return self._decide(Action.FALL_BACK, cause)

    def _decide(self, action: Action, reason: str) -> Decision:
        self.reason = reason
        return Decision(action, reason)

    def _cause(self, conditions: Conditions) -> str | None:
        """Why the primary must be left now, or None."""
        return _against(conditions, self.settings.t_hot_c, "t_hot")

    def _unsafe(self, conditions: Conditions) -> str | None:
        """Why the primary may not return yet, or None."""
        return _against(conditions, self.settings.t_cool_c, "t_cool")

    def _cool_text(self, conditions: Conditions) -> str:
        if conditions.max_temperature_c is None:
            return "GPU present, no temperature reading"
        return f"at or below t_cool {self.settings.t_cool_c:g} °C"


def _against(conditions: Conditions, limit_c: float, name: str) -> str | None:
    """"GPU lost", or the hottest reading when above ``limit_c``; None when neither."""
    if conditions.gpu_lost:
        return "GPU lost"
    temperature = conditions.max_temperature_c
    if temperature is not None and temperature > limit_c:
        return f"{conditions.hottest or 'temperature'} {temperature:.1f} °C above {name} {limit_c:g} °C"
    return None
