"""Rules checked by the config models and again by run-time objects that take plain values
(the ONNX Runtime engine, the run planner), from one place."""

from __future__ import annotations

from typing import Literal

from jetsentry.config.limits import quoted

CPU_BACKEND = "onnxruntime-cpu"
PARALLEL_RUNS_MAX = 64


def check_parallel_runs(value: object, backend: str | None = None, *, allow_auto: bool = True) -> int | Literal["auto"]:
    """`value` if it is 'auto' (when allowed) or an integer from 1 to PARALLEL_RUNS_MAX,
    and 1 unless `backend` is the CPU backend (GPU providers run one frame at a time)."""
    if allow_auto and value == "auto":
        return "auto"
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= PARALLEL_RUNS_MAX:
        choices = "'auto' or " if allow_auto else ""
        raise ValueError(f"parallel_runs must be {choices}an integer from 1 to {PARALLEL_RUNS_MAX}, got {quoted(value)}")
    if value > 1 and backend is not None and backend != CPU_BACKEND:
        raise ValueError(f"parallel_runs > 1 needs backend {CPU_BACKEND}, not {backend}")
    return value


def check_user_for_password(username: str | None, password: object, protocol: str) -> None:
    """A password is sent only together with a user name (MQTT CONNECT, RTSP authentication)."""
    if password is not None and not username:
        raise ValueError(f"password is set but username is not: {protocol} sends a password only with a user")
