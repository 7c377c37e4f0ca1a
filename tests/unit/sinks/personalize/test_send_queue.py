"""Calls ready to send: round-robin across partitions, in order within one, front for retries."""

from sinks.personalize.batcher import Call
from sinks.personalize.send_queue import SendQueue


def call(partition: int, name: str) -> Call:
    return Call(partition, name, "s")


def taken(queue: SendQueue) -> list[tuple[int, str | None]]:
    out = []
    while queue:
        c = queue.pop()
        out.append((c.partition, c.user_id))
    return out


def test_partitions_take_turns_and_keep_their_order() -> None:
    queue = SendQueue()
    queue.extend([call(0, "a"), call(0, "b"), call(0, "c"), call(1, "x"), call(2, "y")])
    queue.push_front(call(1, "retry"))
    assert len(queue) == 6
    assert taken(queue) == [(0, "a"), (1, "retry"), (2, "y"), (0, "b"), (1, "x"), (0, "c")]


def test_drop_forgets_revoked_partitions() -> None:
    queue = SendQueue()
    queue.extend([call(0, "a"), call(1, "x"), call(0, "b")])
    queue.drop([0, 5])
    assert len(queue) == 1 and taken(queue) == [(1, "x")]
