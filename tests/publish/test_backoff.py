from __future__ import annotations

import random

import pytest

from jetsentry.backoff import Backoff


def test_ceiling_doubles_up_to_the_cap_and_delays_are_jittered_below_it():
    backoff = Backoff(0.5, 4.0, random.Random(1))
    draws = [backoff.next_delay() for _ in range(8)]
    assert [d.ceiling_s for d in draws] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert all(0.0 <= d.delay_s <= d.ceiling_s for d in draws)
    assert len({d.delay_s for d in draws}) == len(draws)  # full jitter: no two alike
    backoff.reset()
    assert backoff.next_delay().ceiling_s == 0.5


def test_long_outages_do_not_overflow():
    backoff = Backoff(0.5, 30.0)
    for _ in range(5000):
        delay = backoff.next_delay()
    assert delay.ceiling_s == 30.0


def test_bounds_are_checked():
    with pytest.raises(ValueError, match="0 < base_s <= cap_s"):
        Backoff(2.0, 1.0)
