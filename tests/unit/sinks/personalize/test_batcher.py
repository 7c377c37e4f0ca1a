"""PutEvents grouping: one partition, user and session per group, at most 10, linger by clock."""

from sinks.personalize.batcher import MAX_EVENTS_PER_CALL, Batcher, Pending


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def item(offset: int, partition: int = 0) -> Pending:
    return Pending(partition, offset, {"eventId": f"e{offset}"}, b"")


def ids(call: object) -> list[int]:
    return [i.offset for i in call.items]  # type: ignore[attr-defined]


def test_full_group_is_returned_at_ten_and_never_more() -> None:
    batcher = Batcher(1.0, FakeClock())
    full = [batcher.add("a", "s", item(n)) for n in range(23)]
    sent = [c for c in full if c is not None]
    assert [len(c.items) for c in sent] == [MAX_EVENTS_PER_CALL, MAX_EVENTS_PER_CALL]
    assert ids(sent[0]) == list(range(10)) and ids(sent[1]) == list(range(10, 20))
    assert batcher.events == 3
    assert [ids(c) for c in batcher.drain()] == [[20, 21, 22]]
    assert batcher.events == 0


def test_groups_never_mix_users_sessions_or_partitions() -> None:
    batcher = Batcher(1.0, FakeClock())
    batcher.add("a", "s1", item(0))
    batcher.add("b", "s1", item(1))
    batcher.add("a", "s1", item(2))
    batcher.add("a", "s2", item(3))
    batcher.add(None, "s1", item(4))
    batcher.add("a", "s1", item(0, partition=1))
    calls = batcher.drain()
    assert sorted((c.partition, c.user_id or "", c.session_id, tuple(ids(c))) for c in calls) == [
        (0, "", "s1", (4,)),
        (0, "a", "s1", (0, 2)),
        (0, "a", "s2", (3,)),
        (0, "b", "s1", (1,)),
        (1, "a", "s1", (0,)),
    ]


def test_linger_counts_from_the_oldest_event() -> None:
    clock = FakeClock()
    batcher = Batcher(1.0, clock)
    batcher.add("a", "s", item(0))
    clock.now += 0.6
    batcher.add("b", "s", item(1))
    batcher.add("a", "s", item(2))
    assert batcher.due() == []
    clock.now += 0.4  # a's first event has waited 1 s; b's only 0.4 s
    assert [ids(c) for c in batcher.due()] == [[0, 2]]
    clock.now += 0.6
    assert [ids(c) for c in batcher.due()] == [[1]]
    assert batcher.events == 0


def test_drain_takes_only_the_revoked_partitions() -> None:
    batcher = Batcher(1.0, FakeClock())
    batcher.add("a", "s", item(0, partition=0))
    batcher.add("b", "s", item(0, partition=1))
    assert [c.partition for c in batcher.drain([1])] == [1]
    assert batcher.events == 1
    assert [c.partition for c in batcher.drain()] == [0]


def test_oldest_group_of_a_partition_holds_its_lowest_offset() -> None:
    batcher = Batcher(1.0, FakeClock())
    batcher.add("a", "s", item(5))
    batcher.add("b", "s", item(6))
    batcher.add("a", "s", item(7))
    assert batcher.oldest_offset(0) == 5
    call = batcher.pop_oldest(0)
    assert call is not None and ids(call) == [5, 7]
    assert batcher.oldest_offset(0) == 6 and batcher.events == 1
    assert batcher.oldest_offset(3) is None and batcher.pop_oldest(3) is None
