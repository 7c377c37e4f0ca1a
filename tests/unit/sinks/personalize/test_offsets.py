"""Commit only below the lowest offset not yet delivered or dead-lettered, per partition."""

from sinks.personalize.offsets import OffsetTracker


def test_watermark_waits_for_the_lowest_unfinished_offset() -> None:
    tracker = OffsetTracker()
    for offset in (10, 11, 12, 13):
        tracker.add(0, offset)
    assert tracker.watermark(0) == 10 and tracker.pending() == 4
    tracker.done(0, 12)
    tracker.done(0, 11)
    assert tracker.watermark(0) == 10
    assert tracker.done_above_watermark() == {0: 2}
    tracker.done(0, 10)
    assert tracker.watermark(0) == 13
    tracker.done(0, 13)
    assert tracker.watermark(0) == 14  # all done: the next offset to read
    assert tracker.pending() == 0 and tracker.done_above_watermark() == {}


def test_gaps_in_offsets_do_not_hold_the_watermark() -> None:
    tracker = OffsetTracker()
    tracker.add(0, 3)
    tracker.add(0, 7)  # 4..6 were compacted away or are transaction markers
    tracker.done(0, 3)
    assert tracker.watermark(0) == 7


def test_committable_reports_only_moved_partitions() -> None:
    tracker = OffsetTracker()
    tracker.add(0, 0)
    tracker.add(1, 0)
    tracker.add(1, 1)
    assert tracker.committable() == {0: 0, 1: 0}
    tracker.committed({0: 0, 1: 0})
    assert tracker.committable() == {}
    tracker.done(1, 1)
    assert tracker.committable() == {}  # offset 0 still holds partition 1
    tracker.done(1, 0)
    assert tracker.committable() == {1: 2}
    tracker.committed({1: 2})
    assert tracker.committable() == {}


def test_forgotten_partition_ignores_late_results() -> None:
    tracker = OffsetTracker()
    tracker.add(0, 0)
    tracker.add(1, 0)
    tracker.forget([0])
    tracker.done(0, 0)
    assert tracker.pending() == 1 and tracker.pending([0]) == 0 and tracker.committable() == {1: 0}


def test_done_below_the_watermark_counts_until_committed() -> None:
    tracker = OffsetTracker()
    for offset in range(5):
        tracker.add(0, offset)
    tracker.done(0, 1)
    assert tracker.done_below_watermark() == 0  # 1 is above the watermark (0)
    tracker.done(0, 0)
    assert tracker.done_below_watermark() == 2
    tracker.committed(tracker.committable())
    assert tracker.done_below_watermark() == 0


def test_span_is_what_a_crash_would_re_read() -> None:
    tracker = OffsetTracker()
    for offset in range(10, 20):
        tracker.add(0, offset)
    tracker.done(0, 15)
    assert tracker.spans() == {0: 10}
    for offset in range(10, 15):
        tracker.done(0, offset)
    assert tracker.spans() == {0: 4}  # 16..19 remain above the watermark 16
    for offset in range(16, 20):
        tracker.done(0, offset)
    assert tracker.spans() == {0: 0}
