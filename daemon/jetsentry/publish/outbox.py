"""Where outgoing messages wait until the broker acknowledges them.

The publisher talks to an `Outbox`: `MemoryOutbox` is the bounded in-memory one,
`DiskOutbox` (publish/disk_outbox.py) keeps messages in SQLite so they survive a broker
outage and a crash.  `put` is called from the frame path and must stay a cheap memory
append; `commit` makes what was put durable and runs on the publisher's network thread
only.  The publisher serialises put/pop_batch/ack/requeue_unacked under its lock and calls
`commit` outside it.
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
    drop_reason: str  # the publisher's counter for what put() drops: "overflow" or "quota"

    def put(self, message: OutgoingMessage) -> int:
        """Append at the back; returns how many of the oldest waiting messages were dropped for room."""

    def commit(self) -> int:
        """Make what put() added durable (a no-op in memory); returns how many messages it committed."""

    def close(self) -> None:
        """Commit what is left and release the storage."""

    def pop_batch(self, max_items: int) -> list[tuple[int, OutgoingMessage]]:
        """Up to max_items oldest committed messages with their keys, now in flight until ack or requeue."""

    def ack(self, key: int) -> None:
        """The broker has the message: forget it."""

    def requeue_unacked(self) -> int:
        """Put every in-flight message back at the front, oldest first; returns how many."""

    @property
    def in_flight(self) -> int:
        """Messages popped and not yet acknowledged or requeued."""

    @property
    def nbytes(self) -> int:
        """Topic plus payload bytes of the messages not yet acknowledged."""

    def __len__(self) -> int:
        """Messages not yet acknowledged: waiting plus in flight."""


def message_size(message: OutgoingMessage) -> int:
    return len(message.topic) + len(message.payload)


class MemoryOutbox:
    """FIFO holding at most `capacity` waiting messages; when full, the oldest are dropped.

    In-flight messages do not count against capacity (the publisher bounds them with its
    send window); once requeued they do, so a later put may drop them first.
    """

    drop_reason = "overflow"

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"outbox capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._waiting: deque[tuple[int, OutgoingMessage]] = deque()
        self._in_flight: dict[int, OutgoingMessage] = {}
        self._next_key = 0
        self._nbytes = 0

    def put(self, message: OutgoingMessage) -> int:
        self._waiting.append((self._next_key, message))
        self._next_key += 1
        self._nbytes += message_size(message)
        dropped = 0
        while len(self._waiting) > self.capacity:
            _, old = self._waiting.popleft()
            self._nbytes -= message_size(old)
            dropped += 1
        return dropped

    def commit(self) -> int:
        return 0

    def close(self) -> None:
        pass

    def pop_batch(self, max_items: int) -> list[tuple[int, OutgoingMessage]]:
        batch = []
        while self._waiting and len(batch) < max_items:
            key, message = self._waiting.popleft()
            self._in_flight[key] = message
            batch.append((key, message))
        return batch

    def ack(self, key: int) -> None:
        message = self._in_flight.pop(key, None)
        if message is not None:
            self._nbytes -= message_size(message)

    def requeue_unacked(self) -> int:
        count = len(self._in_flight)
        # Keys grow with put order, so sorting restores the original order.
        self._waiting.extendleft(sorted(self._in_flight.items(), reverse=True))
        self._in_flight.clear()
        return count

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def nbytes(self) -> int:
        return self._nbytes

    def __len__(self) -> int:
        return len(self._waiting) + len(self._in_flight)
