"""The health state: facts in, state and reasons out, a change with its reason each time it moves."""

from __future__ import annotations

import pytest

from jetsentry.health import CameraFacts, Health, HealthState, StageFacts


class Clock:
    """A settable clock, so windows and durations are exact."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def health(clock: Clock) -> HealthState:
    return HealthState(failing_after_batches=3, recent_s=10.0, clock=clock, wall_clock=lambda: clock.now + 1e9)


def facts(*, batch_failures: int = 0, error: str | None = None, broker_unreachable: bool = False,
          **cameras: CameraFacts) -> StageFacts:
    cameras = cameras or {"a": CameraFacts("streaming"), "b": CameraFacts("streaming")}
    return StageFacts(cameras=cameras, consecutive_batch_failures=batch_failures, last_batch_error=error,
                      broker_unreachable=broker_unreachable)


def test_everything_working_is_ok_without_reasons(health):
    assert health.update(facts()) is None
    assert health.current.state is Health.OK and health.current.reasons == ()


def test_starting_cameras_and_cameras_at_their_end_are_not_faults(health):
    assert health.update(facts(a=CameraFacts("connecting"), b=CameraFacts("stopped"))) is None
    assert health.current.state is Health.OK


def test_one_camera_reconnecting_is_degraded_and_its_return_is_a_change_back(health, clock):
    change = health.update(facts(a=CameraFacts("recovering", 1, last_error="connection refused"),
                                 b=CameraFacts("streaming")))
    assert (change.previous, change.state) == (Health.OK, Health.DEGRADED) and change.worse
    assert change.reason == "camera a: reconnecting: connection refused"
    assert change.at == clock.now + 1e9 == health.current.since
    # Still reconnecting (a second attempt): no change.
    assert health.update(facts(a=CameraFacts("connecting", 2), b=CameraFacts("streaming"))) is None
    assert [str(r) for r in health.current.reasons] == ["camera a: reconnecting"]
    back = health.update(facts())
    assert (back.previous, back.state, back.worse) == (Health.DEGRADED, Health.OK, False)
    assert back.reason == "resolved: camera a: reconnecting"


def test_every_camera_failed_is_failing_naming_each(health, clock):
    change = health.update(facts(a=CameraFacts("failed", last_error="file not found"),
                                 b=CameraFacts("failed", last_error="no decoder")))
    assert change.state is Health.FAILING
    assert change.reason == "cameras: no working camera, every camera failed: a (file not found); b (no decoder)"
    clock.now += 42.0
    health.update(facts(a=CameraFacts("failed"), b=CameraFacts("failed")))
    assert health.failing_for() == 42.0


def test_some_cameras_failed_is_degraded(health):
    change = health.update(facts(a=CameraFacts("failed", last_error="file not found"), b=CameraFacts("stopped")))
    assert change.state is Health.DEGRADED and change.reason == "camera a: failed: file not found"
    assert health.failing_for() == 0.0


def test_no_enabled_camera_is_failing(health):
    assert health.update(StageFacts(cameras={})).reason == "cameras: no camera is enabled"


def test_failed_batches_degrade_then_fail_at_the_threshold_and_one_success_clears_them(health, clock):
    assert health.update(facts(batch_failures=2, error="RuntimeError: boom")).state is Health.DEGRADED
    change = health.update(facts(batch_failures=3, error="RuntimeError: boom"))
    assert change.state is Health.FAILING
    assert change.reason == "inference: 3 batch(es) failed in a row; last: RuntimeError: boom"
    clock.now += 5
    assert health.update(facts(batch_failures=40, error="RuntimeError: boom")) is None
    assert health.failing_for() == 5
    assert health.update(facts()).state is Health.OK
    assert health.failing_for() == 0.0


def test_decode_errors_degrade_a_camera_for_the_recent_window(health, clock):
    assert health.update(facts(a=CameraFacts("streaming", decode_errors=0), b=CameraFacts("streaming"))) is None
    change = health.update(facts(a=CameraFacts("streaming", decode_errors=3), b=CameraFacts("streaming")))
    assert change.reason == "camera a decoding: decode errors within the last 10 s (3 since start)"
    clock.now += 9
    assert health.update(facts(a=CameraFacts("streaming", decode_errors=3), b=CameraFacts("streaming"))) is None
    clock.now += 2  # 11 s without a new one
    assert health.update(facts(a=CameraFacts("streaming", decode_errors=3), b=CameraFacts("streaming"))).state \
        is Health.OK


def test_broker_unreachable_is_degraded(health):
    change = health.update(facts(broker_unreachable=True))
    assert change.state is Health.DEGRADED and change.reason.startswith("mqtt: broker unreachable")


def test_the_worst_fault_sets_the_state_and_every_fault_is_listed(health):
    change = health.update(facts(batch_failures=5, error="RuntimeError: boom", broker_unreachable=True,
                                 a=CameraFacts("recovering", 1), b=CameraFacts("streaming")))
    assert change.state is Health.FAILING
    assert change.reason.startswith("inference: 5 batch(es)")  # the change names what made it failing
    assert health.current.subjects == {"camera a", "inference", "mqtt"}


def test_threshold_must_be_positive():
    with pytest.raises(ValueError, match="failing_after_batches must be >= 1"):
        HealthState(failing_after_batches=0)
