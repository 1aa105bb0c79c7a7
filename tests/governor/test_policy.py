"""The backend policy as a pure state machine: readings and errors in, decisions out."""

from __future__ import annotations

import pytest

from jetsentry.governor.policy import Action, BackendPolicy, BackendState, Conditions, PolicySettings

SETTINGS = PolicySettings(t_hot_c=90.0, t_cool_c=80.0, cooldown_s=60.0, engine_errors=3, error_window_s=30.0)


def hot(t: float) -> Conditions:
    return Conditions(max_temperature_c=t, hottest="tj-thermal")


def actions(decisions) -> list[Action]:
    return [d.action for d in decisions]


def fall_back(policy: BackendPolicy, now: float) -> None:
    """Carry out a FALL_BACK: the fallback is warm at `now`."""
    assert actions(policy.fallback_ready(now)) == [Action.SWITCH_TO_FALLBACK]


def test_crossing_t_hot_once_falls_back_once_with_the_reading_in_the_reason():
    policy = BackendPolicy(SETTINGS)
    assert policy.observe(hot(89.9), 0.0) == []
    assert policy.observe(hot(90.0), 1.0) == []  # at t_hot is not above it
    decisions = policy.observe(hot(91.5), 2.0)
    assert actions(decisions) == [Action.FALL_BACK]
    assert "tj-thermal 91.5 °C above t_hot 90 °C" in decisions[0].reason
    assert policy.state is BackendState.FALLING_BACK
    assert policy.observe(hot(95.0), 3.0) == []  # no second decision while the fallback warms up
    fall_back(policy, 3.5)
    assert policy.on_fallback and policy.switches == 1
    for second in range(4, 200):
        assert policy.observe(hot(95.0), float(second)) == []


def test_oscillating_around_t_hot_switches_once():
    policy = BackendPolicy(SETTINGS)
    switches = 0
    for tick in range(3600):  # an hour, one reading a second, alternating 89 / 91
        decisions = policy.observe(hot(91.0 if tick % 2 else 89.0), float(tick))
        if Action.FALL_BACK in actions(decisions):
            fall_back(policy, float(tick))
        switches = policy.switches
    assert switches == 1
    assert policy.state is BackendState.FALLBACK  # 89 °C is above t_cool: the way back never opens


def test_oscillating_between_hot_and_cool_returns_at_most_once_per_cooldown():
    # 30 s hot, 90 s cool, repeated: each cool phase is longer than the cooldown, so one return per cycle.
    policy = BackendPolicy(SETTINGS)
    returns = 0
    for tick in range(1200):
        cool = tick % 120 >= 30
        decisions = policy.observe(hot(70.0 if cool else 95.0), float(tick))
        if Action.FALL_BACK in actions(decisions):
            fall_back(policy, float(tick))
        if Action.PREPARE_PRIMARY in actions(decisions):
            assert actions(policy.primary_ready(float(tick))) == [Action.SWITCH_TO_PRIMARY]
            returns += 1
    assert returns == 10 and policy.switches == 20
    # Cool phases shorter than the cooldown: never back.
    policy = BackendPolicy(SETTINGS)
    for tick in range(1200):
        decisions = policy.observe(hot(70.0 if tick % 60 >= 10 else 95.0), float(tick))
        if Action.FALL_BACK in actions(decisions):
            fall_back(policy, float(tick))
        assert Action.PREPARE_PRIMARY not in actions(decisions)
    assert policy.switches == 1


def test_cooldown_is_honoured_and_restarts_when_it_warms_up_again():
    policy = BackendPolicy(SETTINGS)
    policy.observe(hot(95.0), 0.0)
    fall_back(policy, 1.0)
    assert policy.observe(hot(79.0), 10.0) == []  # cool since 10 s
    assert policy.observe(hot(79.0), 69.9) == []
    assert policy.observe(hot(85.0), 69.95) == []  # between t_cool and t_hot: the cooldown restarts
    assert policy.observe(hot(79.0), 70.0) == []
    assert policy.observe(hot(79.0), 129.9) == []
    decisions = policy.observe(hot(79.0), 130.0)
    assert actions(decisions) == [Action.PREPARE_PRIMARY]
    assert "at or below t_cool 80 °C for 60 s" in decisions[0].reason
    assert policy.on_fallback  # the fallback serves while the primary is rebuilt
    assert actions(policy.primary_ready(131.0)) == [Action.SWITCH_TO_PRIMARY]
    assert policy.state is BackendState.PRIMARY and policy.switches == 2


def test_warming_up_while_the_primary_is_prepared_cancels_the_return():
    policy = BackendPolicy(SETTINGS)
    policy.observe(hot(95.0), 0.0)
    fall_back(policy, 0.5)
    policy.observe(hot(70.0), 1.0)
    assert actions(policy.observe(hot(70.0), 61.0)) == [Action.PREPARE_PRIMARY]
    decisions = policy.observe(hot(88.0), 62.0)
    assert actions(decisions) == [Action.CANCEL_PRIMARY] and "88.0 °C above t_cool" in decisions[0].reason
    assert policy.primary_ready(63.0) == []  # a late build is not used
    assert policy.state is BackendState.FALLBACK and policy.switches == 1


def test_failing_probe_keeps_the_fallback_and_restarts_the_cooldown():
    policy = BackendPolicy(SETTINGS)
    policy.observe(hot(95.0), 0.0)
    fall_back(policy, 0.5)
    policy.observe(hot(70.0), 1.0)
    assert actions(policy.observe(hot(70.0), 61.0)) == [Action.PREPARE_PRIMARY]
    decisions = policy.primary_failed("primary: probe batch gave non-finite boxes or scores", 62.0)
    assert actions(decisions) == [Action.PRIMARY_FAILED] and "non-finite" in decisions[0].reason
    assert policy.state is BackendState.FALLBACK and policy.switches == 1
    assert policy.observe(hot(70.0), 121.9) == []  # a whole new cooldown from the failure
    assert actions(policy.observe(hot(70.0), 122.0)) == [Action.PREPARE_PRIMARY]


def test_engine_errors_within_the_window_fall_back_and_outside_it_do_not():
    policy = BackendPolicy(SETTINGS)
    # Three errors, but never three within 30 s.
    for now in (0.0, 20.0, 40.0, 60.0, 80.0):
        assert policy.engine_error("cuda_launch_failure", now) == []
    assert policy.state is BackendState.PRIMARY
    assert policy.engine_error("cuda_out_of_memory", 95.0) == []  # 60 left the window: 80, 95
    decisions = policy.engine_error("cuda_out_of_memory", 100.0)  # 80, 95, 100
    assert actions(decisions) == [Action.FALL_BACK]
    assert decisions[0].reason == "3 engine errors within 30 s (last: cuda_out_of_memory)"


def test_fallback_errors_do_not_count_and_errors_are_forgotten_after_a_return():
    policy = BackendPolicy(SETTINGS)
    for now in (0.0, 1.0, 2.0):
        decisions = policy.engine_error("cuda_error", now)
    assert actions(decisions) == [Action.FALL_BACK]
    fall_back(policy, 3.0)
    for now in range(4, 20):
        assert policy.engine_error("onnxruntime_error", float(now)) == []  # the CPU backend's own
    policy.observe(Conditions(), 20.0)  # no temperatures at all: only time and the GPU count
    decisions = policy.observe(Conditions(), 80.0)
    assert actions(decisions) == [Action.PREPARE_PRIMARY] and "no temperature reading" in decisions[0].reason
    policy.primary_ready(81.0)
    assert policy.engine_error("cuda_error", 82.0) == [] and policy.engine_error("cuda_error", 83.0) == []
    assert actions(policy.engine_error("cuda_error", 84.0)) == [Action.FALL_BACK]


def test_gpu_lost_falls_back_at_once_and_returns_only_after_it_is_back_for_the_cooldown():
    policy = BackendPolicy(SETTINGS)
    decisions = policy.observe(Conditions(max_temperature_c=50.0, gpu_lost=True), 0.0)
    assert actions(decisions) == [Action.FALL_BACK] and decisions[0].reason == "GPU lost"
    fall_back(policy, 0.5)
    for now in range(1, 300):
        assert policy.observe(Conditions(max_temperature_c=50.0, gpu_lost=True), float(now)) == []
    assert policy.observe(Conditions(max_temperature_c=50.0), 300.0) == []  # back: the cooldown starts
    assert policy.observe(Conditions(max_temperature_c=50.0), 359.0) == []
    assert actions(policy.observe(Conditions(max_temperature_c=50.0), 360.0)) == [Action.PREPARE_PRIMARY]


def test_a_fallback_that_cannot_be_built_keeps_the_primary_and_retries_later():
    policy = BackendPolicy(SETTINGS)
    policy.observe(hot(95.0), 0.0)
    decisions = policy.fallback_failed("fallback: ModelError: no such file", 1.0)
    assert actions(decisions) == [Action.FALLBACK_FAILED] and "no such file" in decisions[0].reason
    assert policy.state is BackendState.PRIMARY and policy.switches == 0
    assert policy.observe(hot(95.0), 2.0) == []  # not rebuilt at every reading
    assert actions(policy.observe(hot(95.0), 1.0 + SETTINGS.retry_s)) == [Action.FALL_BACK]


def test_settings_refuse_t_cool_at_or_above_t_hot():
    with pytest.raises(ValueError, match="t_cool_c .80. must be below t_hot_c .80."):
        PolicySettings(t_hot_c=80, t_cool_c=80, cooldown_s=1, engine_errors=1, error_window_s=1)


def test_a_timed_out_engine_call_falls_back_at_once_and_names_the_timeout():
    policy = BackendPolicy(SETTINGS)
    decisions = policy.engine_error("timeout", 10.0, "EngineTimeoutError: onnxruntime-cuda engine call gave no "
                                                    "result within 5 s")
    assert actions(decisions) == [Action.FALL_BACK]  # one timeout, not engine_errors of them
    assert decisions[0].reason.startswith("engine call timed out, counted as the GPU lost: EngineTimeoutError")
    assert policy.cause == "engine_timeout"
    fall_back(policy, 11.0)
    assert policy.engine_error("timeout", 12.0) == []  # the fallback's own errors never count


def test_the_cause_of_a_fallback_is_kept_thermal_gpu_lost_or_engine_errors():
    causes = []
    for enter in (lambda p: p.observe(hot(95.0), 1.0), lambda p: p.observe(Conditions(gpu_lost=True), 1.0),
                  lambda p: [d for t in (1.0, 2.0, 3.0) for d in p.engine_error("cuda", t)]):
        policy = BackendPolicy(SETTINGS)
        assert actions(enter(policy)) == [Action.FALL_BACK]
        causes.append(policy.cause)
    assert causes == ["thermal", "gpu_lost", "engine_errors"]


def test_the_primary_is_prepared_the_lead_before_the_cooldown_ends_and_traffic_waits_for_its_end():
    policy = BackendPolicy(PolicySettings(t_hot_c=90.0, t_cool_c=80.0, cooldown_s=60.0, engine_errors=3,
                                          error_window_s=30.0, prepare_lead_s=5.0))
    policy.observe(hot(95.0), 0.0)
    fall_back(policy, 1.0)
    assert policy.observe(hot(70.0), 10.0) == []  # the cooldown starts: due at 70
    assert policy.observe(hot(70.0), 64.9) == []
    decisions = policy.observe(hot(70.0), 65.0)  # 5 s before its end
    assert actions(decisions) == [Action.PREPARE_PRIMARY] and policy.state is BackendState.RETURNING
    assert "traffic returns after 60 s" in decisions[0].reason
    assert policy.primary_ready(66.0) == [] and policy.primary_ready(69.9) == []  # ready, waiting
    assert policy.state is BackendState.RETURNING and policy.on_fallback
    assert actions(policy.primary_ready(70.0)) == [Action.SWITCH_TO_PRIMARY] and not policy.on_fallback


def test_heat_while_the_prepared_primary_waits_for_the_cooldown_cancels_the_return():
    policy = BackendPolicy(PolicySettings(t_hot_c=90.0, t_cool_c=80.0, cooldown_s=60.0, engine_errors=3,
                                          error_window_s=30.0, prepare_lead_s=5.0))
    policy.observe(hot(95.0), 0.0)
    fall_back(policy, 1.0)
    policy.observe(hot(70.0), 10.0)
    assert actions(policy.observe(hot(70.0), 66.0)) == [Action.PREPARE_PRIMARY]
    assert policy.primary_ready(67.0) == []
    assert actions(policy.observe(hot(85.0), 68.0)) == [Action.CANCEL_PRIMARY]
    assert policy.primary_ready(71.0) == [] and policy.state is BackendState.FALLBACK


def test_a_lead_longer_than_the_cooldown_prepares_as_soon_as_the_way_back_opens():
    policy = BackendPolicy(PolicySettings(t_hot_c=90.0, t_cool_c=80.0, cooldown_s=1.0, engine_errors=3,
                                          error_window_s=30.0, prepare_lead_s=5.0))
    policy.observe(hot(95.0), 0.0)
    fall_back(policy, 0.5)
    assert actions(policy.observe(hot(70.0), 2.0)) == [Action.PREPARE_PRIMARY]
    assert policy.primary_ready(2.5) == [] and actions(policy.primary_ready(3.0)) == [Action.SWITCH_TO_PRIMARY]


def _fail_and_return(policy: BackendPolicy, now: float) -> tuple[list, float]:
    """Three engine errors at `now`, the fallback warm, cool readings until the primary is back;
    the fall-back decisions and the time the primary returned."""
    for step in range(3):
        decisions = policy.engine_error("gpu_memory", now + step * 0.1)
    fall_back(policy, now + 1.0)
    t = now + 1.0
    policy.observe(Conditions(), t)
    while policy.state is not BackendState.RETURNING:
        t += 1.0
        policy.observe(Conditions(), t)
    while policy.state is not BackendState.PRIMARY:
        t += 1.0
        policy.primary_ready(t)
    return decisions, t


def test_a_primary_failing_soon_after_each_return_waits_longer_each_time_up_to_the_cap():
    policy = BackendPolicy(SETTINGS)
    decisions, returned = _fail_and_return(policy, 0.0)
    assert "failed again" not in decisions[0].reason and returned - 1.0 == pytest.approx(60.0, abs=1.0)
    waits = []
    for _ in range(5):  # each time it fails 5 s after its return
        decisions, back = _fail_and_return(policy, returned + 5.0)
        waits.append(round(back - (returned + 7.0)))  # cool from the fallback (+6 s), one tick to return
        assert "failed again 5.2 s after its return" in decisions[0].reason  # the third error, 5.2 s
        returned = back
    assert waits == [120, 240, 480, 480, 480]  # doubled each time, capped at 8 cooldowns


def test_a_primary_serving_a_whole_cooldown_after_its_return_resets_the_cooldown():
    policy = BackendPolicy(SETTINGS)
    _, returned = _fail_and_return(policy, 0.0)
    _, returned = _fail_and_return(policy, returned + 5.0)  # flapping: the next cooldown is 120 s
    assert policy.cooldown_s == 120.0
    decisions, back = _fail_and_return(policy, returned + 200.0)  # served 200 s: longer than 120
    assert "failed again" not in decisions[0].reason and back - (returned + 201.0) == pytest.approx(60.0, abs=1.0)


def test_heat_soon_after_a_return_does_not_lengthen_the_cooldown():
    policy = BackendPolicy(SETTINGS)
    _, returned = _fail_and_return(policy, 0.0)
    decisions = policy.observe(hot(95.0), returned + 5.0)
    assert actions(decisions) == [Action.FALL_BACK] and "failed again" not in decisions[0].reason
    assert policy.cooldown_s == 60.0
