"""De-duplication by message_id and gap detection per (device, camera, run), in bounded memory.

A message_id is "{device_id}/{camera_id}/{run}/{seq}" (the detections schema): the same in
every resend, so an id seen before is a duplicate; `run` changes at every start of the
daemon, so seq restarting at 0 in a new run is no gap.  Within a run, a seq beyond the
highest seen + 1 leaves a gap, reported once; a seq that arrives later inside a reported
gap is counted as late (the broker delivered out of order, or a resend came after newer
messages), not as a duplicate.

Messages without a message_id (the format before jetsentry.detections/2) cannot be told
apart from a restarted daemon's, whose seq starts at 0 again, so they are never dropped:
they are counted as unidentified, and their seq is followed per (device, camera) only to
report gaps, with a seq going back reported as a restart.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum

_MESSAGE_ID = re.compile(r"^([^/]+)/([^/]+)/(\d+)/(\d+)$")
# Streams followed at once: devices x cameras x recent runs; the least recently seen is forgotten.
MAX_STREAMS = 65_536


class Verdict(Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    LATE = "late"  # new, but older than messages already delivered (it fills a reported gap)


@dataclass(frozen=True, slots=True)
class Gap:
    device_id: str
    camera_id: str
    run: int | None  # None: messages without message_id
    first: int  # first missing seq
    last: int  # last missing seq

    @property
    def missing(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True, slots=True)
class Observation:
    verdict: Verdict
    gap: Gap | None = None
    restarted: bool = False  # an unidentified stream's seq went back


@dataclass
class Counts:
    new: int = 0
    duplicates: int = 0
    late: int = 0
    unidentified: int = 0  # delivered without a message_id
    gaps: int = 0
    missing: int = 0  # seqs inside reported gaps, minus those that arrived late
    per_stream_missing: dict[str, int] = field(default_factory=dict)


class MessageIdError(ValueError):
    pass


def parse_message_id(message_id: str) -> tuple[str, str, int, int]:
    found = _MESSAGE_ID.match(message_id) if isinstance(message_id, str) else None
    if not found:
        raise MessageIdError(f"message_id {message_id!r:.120} is not device/camera/run/seq")
    return found.group(1), found.group(2), int(found.group(3)), int(found.group(4))


class DeliveryTracker:
    """remember: how many recent ids are kept for de-duplication; a resend older than that
    many messages is delivered again (raise it for long broker outages at many cameras)."""

    def __init__(self, remember: int = 100_000):
        if remember < 1:
            raise ValueError(f"remember must be >= 1, got {remember}")
        self.remember = remember
        self._seen: OrderedDict[str, None] = OrderedDict()
        # stream -> [first seq seen, highest seq seen]; unseen seqs between them are in reported gaps.
        self._streams: OrderedDict[tuple[str, str, int | None], list[int]] = OrderedDict()
        self.counts = Counts()

    def observe(self, message_id: str) -> Observation:
        """A message with this id arrived; MessageIdError if the id is malformed."""
        device, camera, run, seq = parse_message_id(message_id)
        if message_id in self._seen:
            self._seen.move_to_end(message_id)
            self.counts.duplicates += 1
            return Observation(Verdict.DUPLICATE)
        self._seen[message_id] = None
        if len(self._seen) > self.remember:
            self._seen.popitem(last=False)
        return self._follow((device, camera, run), seq)

    def observe_unidentified(self, device_id: str, camera_id: str, seq: int) -> Observation:
        """A message without message_id: delivered, its seq followed for gaps."""
        self.counts.unidentified += 1
        key = (device_id, camera_id, None)
        stream = self._streams.get(key)
        if stream is not None and seq <= stream[1]:
            self._streams[key] = [seq, seq]  # the daemon restarted: its seq began again
            self._streams.move_to_end(key)
            self.counts.new += 1
            return Observation(Verdict.NEW, restarted=True)
        return self._follow(key, seq)

    def _follow(self, key: tuple[str, str, int | None], seq: int) -> Observation:
        stream = self._streams.get(key)
        if stream is not None and seq <= stream[1]:
            self.counts.late += 1
            if seq > stream[0]:
                self._count_missing(key, -1)  # it was inside a reported gap
            else:
                stream[0] = seq  # older than anything seen: the stream starts earlier
            return Observation(Verdict.LATE)
        highest = None if stream is None else stream[1]
        if stream is None:
            self._streams[key] = [seq, seq]
            if len(self._streams) > MAX_STREAMS:
                self._streams.popitem(last=False)
        else:
            stream[1] = seq
            self._streams.move_to_end(key)
        self.counts.new += 1
        # The first message of a stream is its start: a consumer that starts late sees no gap before it.
        if highest is None or seq == highest + 1:
            return Observation(Verdict.NEW)
        gap = Gap(key[0], key[1], key[2], highest + 1, seq - 1)
        self.counts.gaps += 1
        self._count_missing(key, gap.missing)
        return Observation(Verdict.NEW, gap=gap)

    def _count_missing(self, key: tuple[str, str, int | None], change: int) -> None:
        self.counts.missing += change
        name = stream_name(*key)
        self.counts.per_stream_missing[name] = self.counts.per_stream_missing.get(name, 0) + change


def stream_name(device_id: str, camera_id: str, run: int | None) -> str:
    return f"{device_id}/{camera_id}/{'-' if run is None else run}"
