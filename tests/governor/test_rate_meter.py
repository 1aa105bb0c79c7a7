"""The governor's handover-rate meter (the rate a camera is shed from), on a given clock."""

from __future__ import annotations

import pytest

from jetsentry.governor.runner import RATE_MIN_SPAN_S, RATE_WINDOW_S, _RateMeter


def feed(meter: _RateMeter, counts: list[int], interval_s: float, start_s: float = 0.0) -> dict[str, float]:
    rates = {}
    for i, count in enumerate(counts):
        rates = meter.update({"cam": count}, start_s + i * interval_s)
    return rates


def test_a_jittering_30_fps_camera_read_every_0_2_s_measures_about_30():
    # 6 frames per read on average, with reads landing 7, 5, 7, 5, ... apart (one frame early or late).
    meter = _RateMeter(lambda: 0.0)
    counts, total = [], 0
    for i in range(60):
        total += 7 if i % 2 else 5
        counts.append(total)
    counts[-1] += 1  # the last read one frame early: alone over 0.2 s that reads as 35 frames/s
    rate = feed(meter, counts, 0.2)["cam"]
    assert rate == pytest.approx(30.0, abs=1.0)


def test_the_rate_follows_a_change_within_the_window():
    meter = _RateMeter(lambda: 0.0)
    reads = int(RATE_WINDOW_S / 0.2)
    counts = [6 * i for i in range(reads * 2)]  # 30 frames/s
    counts += [counts[-1] + 2 * (i + 1) for i in range(reads + 1)]  # then 10 frames/s
    assert feed(meter, counts, 0.2)["cam"] == pytest.approx(10.0)


def test_no_rate_before_the_minimum_span_and_a_restarted_counter_starts_over():
    meter = _RateMeter(lambda: 0.0)
    reads = round(RATE_MIN_SPAN_S / 0.25)
    for i in range(reads):  # 30 frames/s read every 0.25 s, not yet over the minimum span
        assert meter.update({"cam": 100 + 15 * i // 2}, 0.25 * i) == {}
    assert meter.update({"cam": 100 + 15 * reads // 2}, 0.25 * reads) == {"cam": pytest.approx(30.0)}
    # A new session under the same id counts from 0: no negative rate, and the span starts over.
    assert meter.update({"cam": 3}, 0.25 * reads + 0.25) == {}


def test_a_removed_camera_leaves_no_rate_and_a_read_without_time_passing_keeps_the_rate():
    meter = _RateMeter(lambda: 0.0)
    for i in range(9):
        rates = meter.update({"a": 6 * i, "b": 3 * i}, 0.2 * i)
    assert rates == {"a": pytest.approx(30.0), "b": pytest.approx(15.0)}
    assert meter.update({"a": 48}, 1.6) == {"a": pytest.approx(30.0)}
