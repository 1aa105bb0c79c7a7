from __future__ import annotations

import pytest

from jetsentry.publish import MemoryOutbox, OutgoingMessage


def _msg(i: int) -> OutgoingMessage:
    return OutgoingMessage(f"t/{i}", str(i).encode(), 1)


def _payloads(pairs) -> list[bytes]:
    return [m.payload for _, m in pairs]


def test_overflow_drops_the_oldest_and_reports_how_many():
    box = MemoryOutbox(3)
    dropped = [box.put(_msg(i)) for i in range(5)]
    assert dropped == [0, 0, 0, 1, 1]
    assert len(box) == 3
    assert _payloads(box.pop_batch(10)) == [b"2", b"3", b"4"]


def test_unacknowledged_messages_go_back_to_the_front_in_order():
    box = MemoryOutbox(10)
    for i in range(6):
        box.put(_msg(i))
    batch = box.pop_batch(4)
    assert _payloads(batch) == [b"0", b"1", b"2", b"3"]
    box.ack(batch[1][0])  # "1" delivered
    assert (len(box), box.in_flight) == (5, 3)
    assert box.requeue_unacked() == 3
    assert box.in_flight == 0
    assert _payloads(box.pop_batch(10)) == [b"0", b"2", b"3", b"4", b"5"]


def test_capacity_must_be_positive():
    with pytest.raises(ValueError, match="capacity must be >= 1"):
        MemoryOutbox(0)


def test_memory_outbox_counts_bytes_of_unacknowledged_messages_and_commits_nothing():
    box = MemoryOutbox(2)
    for i in range(3):  # the first is dropped for room
        box.put(_msg(i))
    assert box.nbytes == 2 * len(b"t/1" + b"1")
    assert box.commit() == 0 and box.drop_reason == "overflow"
    key, _ = box.pop_batch(1)[0]
    box.ack(key)
    assert box.nbytes == len(b"t/2" + b"2")
    box.close()
