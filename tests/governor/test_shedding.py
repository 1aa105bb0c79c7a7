"""Load shedding as a pure policy: latency and backlog in, one camera's frame-rate step out."""

from __future__ import annotations

from jetsentry.governor.shedding import LoadShedder, ShedCamera, SheddingSettings

SETTINGS = SheddingSettings(latency_enter_s=1.0, latency_leave_s=0.5, backlog_enter=8, backlog_leave=2,
                            step=0.5, min_fps=2.0, step_interval_s=5.0)
CAMERAS = [ShedCamera("gate", 10), ShedCamera("yard", 0), ShedCamera("lobby", 0)]
RATES = {"gate": 20.0, "yard": 16.0, "lobby": None}  # lobby: no cap, nothing measured yet


def run(shedder, readings, start=0.0):
    """Feed (latency, backlog) every 5 s; the steps taken as (camera, cap)."""
    steps = []
    for index, (latency, backlog) in enumerate(readings):
        step = shedder.observe(latency, backlog, RATES, start + 5.0 * index)
        if step is not None:
            steps.append((step.camera_id, step.fps_cap))
    return steps


def test_sheds_lowest_priority_first_later_camera_first_on_ties_down_to_min_fps():
    shedder = LoadShedder(SETTINGS, CAMERAS)
    steps = run(shedder, [(1.5, 0)] * 9)
    # lobby (priority 0, listed after yard) first, from the assumed 30 fps, then yard, then gate.
    assert steps == [("lobby", 15.0), ("lobby", 7.5), ("lobby", 3.75), ("lobby", 2.0),
                     ("yard", 8.0), ("yard", 4.0), ("yard", 2.0), ("gate", 10.0), ("gate", 5.0)]
    assert shedder.caps == {"lobby": 2.0, "yard": 2.0, "gate": 5.0}


def test_backlog_alone_sheds_and_steps_wait_for_the_interval():
    shedder = LoadShedder(SETTINGS, CAMERAS)
    assert shedder.observe(None, 9, RATES, 0.0).camera_id == "lobby"
    assert shedder.observe(None, 50, RATES, 4.9) is None  # too soon after the previous step
    step = shedder.observe(None, 50, RATES, 5.0)
    assert step.fps_cap == 7.5 and "backlog 50 frames above 8" in step.reason


def test_restores_highest_priority_first_and_lifts_caps_at_the_cameras_own_rate():
    shedder = LoadShedder(SETTINGS, CAMERAS)
    run(shedder, [(1.5, 0)] * 6)  # lobby at 2, yard at 4
    assert shedder.caps == {"lobby": 2.0, "yard": 4.0}
    steps = run(shedder, [(0.2, 1)] * 6, start=100.0)
    assert steps == [("yard", 8.0), ("yard", None), ("lobby", 4.0), ("lobby", 8.0), ("lobby", 16.0),
                     ("lobby", None)]
    assert not shedder.active


def test_between_the_leave_and_enter_levels_nothing_changes():
    shedder = LoadShedder(SETTINGS, CAMERAS)
    run(shedder, [(1.5, 0)])
    assert run(shedder, [(0.7, 0), (0.2, 5), (1.0, 8)] * 4, start=10.0) == []  # hysteresis band
    assert shedder.caps == {"lobby": 15.0}


def test_nothing_to_shed_when_every_camera_is_at_min_fps():
    shedder = LoadShedder(SETTINGS, [ShedCamera("only", 0)])
    steps = [shedder.observe(5.0, 100, {"only": 2.0}, 5.0 * i) for i in range(3)]
    assert steps == [None, None, None]


def test_cameras_added_and_removed_at_run_time_are_shed_by_priority_and_a_removed_one_drops_its_cap():
    shedder = LoadShedder(SETTINGS, [ShedCamera("gate", 10)])
    assert run(shedder, [(1.5, 0)]) == [("gate", 10.0)]
    shedder.set_cameras([ShedCamera("gate", 10), ShedCamera("lobby", 0)])  # added, lower priority
    assert run(shedder, [(1.5, 0)] * 2, start=10.0) == [("lobby", 15.0), ("lobby", 7.5)]
    shedder.set_cameras([ShedCamera("gate", 10)])  # lobby removed: its cap goes with it
    assert shedder.caps == {"gate": 10.0}
