"""Exponential backoff with full jitter."""

from __future__ import annotations

import random

import pytest

from jetsentry.backoff import Backoff


def test_ceilings_double_up_to_the_cap_and_delays_stay_under_them():
    backoff = Backoff(0.1, 0.8, random.Random(42))
    delays = [backoff.next_delay() for _ in range(8)]
    assert [d.ceiling_s for d in delays] == pytest.approx([0.1, 0.2, 0.4, 0.8, 0.8, 0.8, 0.8, 0.8])
    assert [d.attempt for d in delays] == list(range(8))
    assert all(0.0 <= d.delay_s <= d.ceiling_s for d in delays)


def test_full_jitter_spreads_delays_over_the_whole_range():
    backoff = Backoff(1.0, 1.0, random.Random(7))
    delays = [backoff.next_delay().delay_s for _ in range(2000)]
    assert min(delays) < 0.05 and max(delays) > 0.95
    assert sum(delays) / len(delays) == pytest.approx(0.5, abs=0.03)


def test_seeded_rng_is_reproducible():
    a = [Backoff(0.5, 30, random.Random(3)).next_delay().delay_s for _ in range(3)]
    b = [Backoff(0.5, 30, random.Random(3)).next_delay().delay_s for _ in range(3)]
    assert a == b


def test_reset_starts_again_from_base():
    backoff = Backoff(0.5, 30, random.Random(1))
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    first = backoff.next_delay()
    assert first.attempt == 0 and first.ceiling_s == 0.5


def test_huge_attempt_counts_do_not_overflow():
    backoff = Backoff(0.5, 30, random.Random(1))
    assert backoff.ceiling(10_000) == 30


@pytest.mark.parametrize(("base", "cap"), [(0, 1), (1, 0), (2, 1)])
def test_bad_parameters(base, cap):
    with pytest.raises(ValueError):
        Backoff(base, cap)
