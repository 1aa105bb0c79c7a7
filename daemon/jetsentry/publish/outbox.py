"""Where outgoing messages wait until the broker acknowledges them.

The publisher talks to an `Outbox`; `MemoryOutbox` is the bounded in-memory one.  A
disk-backed outbox (later issue) implements the same protocol so messages survive
restarts.  Implementations need not be thread-safe: the publisher serialises calls.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    topic: str
    payload: bytes
    qos: int
    retain: bool = False


class Outbox(Protocol):
    def put(self, message: OutgoingMessage) -> int:
        """Append at the back; returns how many of the oldest waiting messages were dropped for room."""

    def pop_batch(self, max_items: int) -> list[tuple[int, OutgoingMessage]]:
        """Up to max_items oldest waiting messages with their keys, now in flight until ack or requeue."""

    def ack(self, key: int) -> None:
        """The broker has the message: forget it."""

    def requeue_unacked(self) -> int:
        """Put every in-flight message back at the front, oldest first; returns how many."""

    @property
    def in_flight(self) -> int:
        """Messages popped and not yet acknowledged or requeued."""

    def __len__(self) -> int:
        """Messages not yet acknowledged: waiting plus in flight."""


class MemoryOutbox:
    """FIFO holding at most `capacity` waiting messages; when full, the oldest are dropped.

    In-flight messages do not count against capacity (the publisher bounds them with its
    send window); once requeued they do, so a later put may drop them first.
    """

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"outbox capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._waiting: deque[tuple[int, OutgoingMessage]] = deque()
        self._in_flight: dict[int, OutgoingMessage] = {}
        self._next_key = 0

    def put(self, message: OutgoingMessage) -> int:
        self._waiting.append((self._next_key, message))
        self._next_key += 1
        dropped = 0
        while len(self._waiting) > self.capacity:
            self._waiting.popleft()
            dropped += 1
        return dropped

    def pop_batch(self, max_items: int) -> list[tuple[int, OutgoingMessage]]:
        batch = []
        while self._waiting and len(batch) < max_items:
            key, message = self._waiting.popleft()
            self._in_flight[key] = message
            batch.append((key, message))
        return batch

    def ack(self, key: int) -> None:
        self._in_flight.pop(key, None)

    def requeue_unacked(self) -> int:
        count = len(self._in_flight)
        # Keys grow with put order, so sorting restores the original order.
        self._waiting.extendleft(sorted(self._in_flight.items(), reverse=True))
        self._in_flight.clear()
        return count

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def __len__(self) -> int:
        return len(self._waiting) + len(self._in_flight)
