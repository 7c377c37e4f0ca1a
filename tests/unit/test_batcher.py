"""PutEvents grouping: one user and session per call, at most 10 events, order kept."""

from schemas import Interaction
from sinks.batcher import group_calls


def interaction(user: str | None, session: str, n: int) -> Interaction:
    return Interaction(
        event_id=f"e{n}",
        user_id=user,
        device_id=None if user else "d",
        session_id=session,
        item_id=f"i{n}",
        event_type="click",
        personalize_event_type="click",
        weight=1.0,
        timestamp_ms=n,
    )


def test_groups_by_user_and_session_in_order() -> None:
    items = [
        interaction("a", "s1", 0),
        interaction("b", "s1", 1),
        interaction("a", "s1", 2),
        interaction("a", "s2", 3),
        interaction(None, "s1", 4),
    ]
    calls = group_calls(items)
    assert [(c.user_id, c.session_id, [i.event_id for i in c.interactions]) for c in calls] == [
        ("a", "s1", ["e0", "e2"]),
        ("b", "s1", ["e1"]),
        ("a", "s2", ["e3"]),
        (None, "s1", ["e4"]),
    ]


def test_never_more_than_ten_per_call() -> None:
    calls = group_calls([interaction("a", "s", n) for n in range(23)])
    assert [len(c.interactions) for c in calls] == [10, 10, 3]
    assert [i.event_id for c in calls for i in c.interactions] == [f"e{n}" for n in range(23)]
