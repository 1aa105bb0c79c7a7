"""Exponential backoff with full jitter: delay n is uniform in [0, min(cap, base * 2**n)].

Full jitter spreads a fleet's reconnects after a broker restart instead of having every
device retry in lock-step.
"""

from __future__ import annotations

import random
from typing import NamedTuple


class RetryDelay(NamedTuple):
    ceiling_s: float
    delay_s: float


class Backoff:
    def __init__(self, base_s: float, cap_s: float, rng: random.Random | None = None):
        if not 0 < base_s <= cap_s:
            raise ValueError(f"backoff needs 0 < base_s <= cap_s, got base_s={base_s}, cap_s={cap_s}")
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng or random.Random()
        self._attempt = 0

    def next_delay(self) -> RetryDelay:
        # Exponent clamped so 2**n cannot overflow after a very long outage.
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(self._attempt, 60))
        self._attempt += 1
        return RetryDelay(ceiling, self._rng.uniform(0.0, ceiling))

    def reset(self) -> None:
        self._attempt = 0
