"""Exponential backoff with full jitter (delay = uniform(0, min(cap, base * 2**attempt))).

Full jitter spreads the reconnects of many cameras that lost the same network (or a
fleet after a broker restart), instead of letting them retry in lock-step.  Used by
capture sessions and the MQTT publisher.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryDelay:
    attempt: int  # 0 for the first retry after a success
    ceiling_s: float  # min(cap, base * 2**attempt)
    delay_s: float  # uniform(0, ceiling_s)


class Backoff:
    def __init__(self, base_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        if not 0 < base_s <= cap_s:
            raise ValueError(f"backoff needs 0 < base_s <= cap_s, got base_s={base_s}, cap_s={cap_s}")
        self.base_s = base_s
        self.cap_s = cap_s
        self._rng = rng or random.Random()
        self._attempt = 0

    @property
    def attempt(self) -> int:
        return self._attempt

    def ceiling(self, attempt: int) -> float:
        # Cap the exponent so 2**attempt cannot overflow after days of retrying.
        return min(self.cap_s, self.base_s * 2.0 ** min(attempt, 64))

    def next_delay(self) -> RetryDelay:
        """The next delay to sleep; each call moves one attempt further."""
        ceiling = self.ceiling(self._attempt)
        delay = RetryDelay(self._attempt, ceiling, self._rng.uniform(0.0, ceiling))
        self._attempt += 1
        return delay

    def reset(self) -> None:
        """After a success: the next failure starts again from `base`."""
        self._attempt = 0
