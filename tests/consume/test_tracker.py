"""DeliveryTracker: duplicates by message_id, gaps per (device, camera, run), bounded memory."""

from __future__ import annotations

import pytest

from jetsentry.consume.tracker import DeliveryTracker, Gap, MessageIdError, Verdict


def _verdicts(tracker: DeliveryTracker, ids: list[str]) -> list[Verdict]:
    return [tracker.observe(i).verdict for i in ids]


def test_a_resent_id_is_a_duplicate():
    tracker = DeliveryTracker()
    assert _verdicts(tracker, ["d/c/1/0", "d/c/1/1", "d/c/1/0", "d/c/1/1", "d/c/1/2"]) == [
        Verdict.NEW, Verdict.NEW, Verdict.DUPLICATE, Verdict.DUPLICATE, Verdict.NEW]
    assert (tracker.counts.new, tracker.counts.duplicates, tracker.counts.gaps) == (3, 2, 0)


def test_a_gap_is_reported_once_and_a_late_arrival_fills_it():
    tracker = DeliveryTracker()
    tracker.observe("d/c/1/4")  # a consumer that starts late sees no gap before the first message
    assert tracker.observe("d/c/1/5").gap is None
    observation = tracker.observe("d/c/1/9")
    assert observation.gap == Gap("d", "c", 1, 6, 8) and observation.gap.missing == 3
    assert tracker.observe("d/c/1/10").gap is None
    assert tracker.observe("d/c/1/7").verdict is Verdict.LATE
    assert (tracker.counts.gaps, tracker.counts.missing, tracker.counts.late) == (1, 2, 1)
    assert tracker.counts.per_stream_missing == {"d/c/1": 2}
    assert tracker.observe("d/c/1/7").verdict is Verdict.DUPLICATE
    assert tracker.observe("d/c/1/2").verdict is Verdict.LATE  # before the first seen: no gap to fill
    assert tracker.counts.missing == 2


def test_streams_are_per_device_camera_and_run():
    tracker = DeliveryTracker()
    for message_id in ("d/c/1/0", "d/c/1/1", "d/c2/1/0", "e/c/1/0", "d/c/2/0", "d/c/2/1", "d/c2/1/1"):
        assert tracker.observe(message_id).gap is None, message_id
    assert tracker.counts.new == 7


def test_memory_is_bounded_and_forgets_the_oldest_ids():
    tracker = DeliveryTracker(remember=3)
    _verdicts(tracker, ["d/c/1/0", "d/c/1/1", "d/c/1/2", "d/c/1/3"])
    assert tracker.observe("d/c/1/3").verdict is Verdict.DUPLICATE
    assert tracker.observe("d/c/1/0").verdict is Verdict.LATE  # forgotten: delivered again, counted late


def test_messages_without_id_are_never_dropped_and_a_restart_is_no_gap():
    tracker = DeliveryTracker()
    observations = [tracker.observe_unidentified("d", "c", seq) for seq in (0, 1, 2, 0, 1, 5)]
    assert [o.verdict for o in observations] == [Verdict.NEW] * 6
    assert [o.restarted for o in observations] == [False, False, False, True, False, False]
    assert observations[-1].gap == Gap("d", "c", None, 2, 4)
    assert (tracker.counts.unidentified, tracker.counts.duplicates) == (6, 0)


@pytest.mark.parametrize("bad", ["", "d/c/1", "d/c/x/1", "d/c/1/-1", "d//1/2", "a/b/c/1/2", None, 7])
def test_malformed_ids_are_errors(bad):
    with pytest.raises(MessageIdError):
        DeliveryTracker().observe(bad)
