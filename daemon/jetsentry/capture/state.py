"""Camera session states and the statistics a session reports."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from jetsentry.backoff import RetryDelay


class SessionState(enum.Enum):
    IDLE = "idle"  # created, not started
    CONNECTING = "connecting"  # pipeline starting, no frame yet
    STREAMING = "streaming"  # frames arriving
    RECOVERING = "recovering"  # failed; waiting out a backoff delay before CONNECTING again
    STOPPED = "stopped"  # stop() was called, or a file ended with on_eos=stop
    FAILED = "failed"  # retrying cannot help (capture/errors.py FatalCaptureError)


TERMINAL_STATES = frozenset({SessionState.STOPPED, SessionState.FAILED})


@dataclass(frozen=True)
class StateChange:
    state: SessionState
    at: float  # session clock (monotonic) seconds
    reason: str = ""


@dataclass(frozen=True)
class SessionStats:
    state: SessionState
    frames: int  # handed to the slot
    decoded: int  # decoded frames, before the fps cap
    dropped_fps_cap: int  # decoded but above the fps cap
    dropped_slot: int  # replaced in the slot before anyone took them
    dropped_policy: int  # decoded but above the governor's load-shedding cap (set_policy_fps_cap)
    reconnects: int  # CONNECTING attempts after the first
    loops: int  # file restarts at end of stream (on_eos=loop)
    # Demuxer/parser/decoder errors and warnings, FFmpeg's decode errors, and file passes
    # that ended short of the frames the file declares (capture/decode_report.py).
    decode_errors: int
    frames_lost: int  # frames a file declares that its passes did not decode (files only)
    last_error: str | None
    transitions: tuple[StateChange, ...]  # newest last, bounded
    retries: tuple[RetryDelay, ...]  # backoff delays slept, newest last, bounded

    @property
    def dropped(self) -> int:
        return self.dropped_fps_cap + self.dropped_slot + self.dropped_policy
