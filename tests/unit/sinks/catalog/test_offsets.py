"""The users and items sinks' watermarks: commit only below the lowest offset not done."""

from sinks.catalog.offsets import Watermarks


def test_the_watermark_waits_for_the_lowest_offset_not_done() -> None:
    marks = Watermarks()
    for offset in range(5):
        marks.add(0, offset)
    marks.done(0, 1)
    marks.done(0, 2)
    assert marks.committable() == {0: 0} and marks.pending() == 3
    marks.done(0, 0)
    assert marks.committable() == {0: 3}
    marks.committed({0: 3})
    assert marks.committable() == {}
    marks.done(0, 4)
    marks.done(0, 3)
    assert marks.committable() == {0: 5} and marks.pending() == 0


def test_a_revoked_partition_is_forgotten_and_late_results_ignored() -> None:
    marks = Watermarks()
    marks.add(1, 7)
    marks.forget([1])
    marks.done(1, 7)
    assert marks.committable() == {} and marks.pending() == 0
