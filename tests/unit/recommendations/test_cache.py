"""The answer cache: TTL, LRU, bounded in answers, per-subject invalidation, no stale re-fill."""

from recommendations.cache import AnswerCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ttl() -> None:
    clock = Clock()
    cache = AnswerCache(ttl_seconds=10, max_entries=5, clock=clock)
    cache.put("u1", "v", "answer", fetched_at=clock())
    clock.now = 9.9
    assert cache.get("u1", "v") == "answer"
    clock.now = 10.0
    assert cache.get("u1", "v") is None


def test_least_recently_used_answer_goes_first() -> None:
    clock = Clock()
    cache = AnswerCache(ttl_seconds=10, max_entries=2, clock=clock)
    cache.put("a", 1, "A", clock())
    cache.put("b", 1, "B", clock())
    assert cache.get("a", 1) == "A"  # a is now more recent than b
    cache.put("c", 1, "C", clock())
    assert (cache.get("a", 1), cache.get("b", 1), cache.get("c", 1)) == ("A", None, "C")


def test_invalidation_drops_every_variant_of_a_subject() -> None:
    clock = Clock()
    cache = AnswerCache(ttl_seconds=10, max_entries=5, clock=clock)
    cache.put("u1", 5, "five", clock())
    cache.put("u1", 10, "ten", clock())
    cache.put("u2", 5, "other", clock())
    assert cache.invalidate("u1") is True
    assert (cache.get("u1", 5), cache.get("u1", 10), cache.get("u2", 5)) == (None, None, "other")
    assert cache.invalidate("u1") is False


def test_answer_fetched_before_an_invalidation_is_not_kept() -> None:
    clock = Clock()
    cache = AnswerCache(ttl_seconds=10, max_entries=5, clock=clock)
    clock.now = 1.0
    fetched_at = clock()
    clock.now = 2.0
    cache.invalidate("u1")  # a strong interaction arrives while the call is in flight
    clock.now = 3.0
    cache.put("u1", 5, "stale", fetched_at)
    assert cache.get("u1", 5) is None
    cache.put("u1", 5, "fresh", clock())
    assert cache.get("u1", 5) == "fresh"


def test_zero_ttl_disables_the_cache() -> None:
    cache = AnswerCache(ttl_seconds=0, max_entries=5)
    cache.put("u1", 5, "x", cache.now())
    assert cache.get("u1", 5) is None


def test_distinct_variants_stay_within_the_bound() -> None:
    """10,000 variants a caller invents, for one user and across users: never over the bound."""
    clock = Clock()
    cache = AnswerCache(ttl_seconds=60, max_entries=100, clock=clock)
    for n in range(10_000):
        cache.put("u1", ("context", n), n, clock())
        assert len(cache) <= 100
    assert len(cache) == 100 and cache.subjects == 1
    assert cache.get("u1", ("context", 9_999)) == 9_999  # the most recent stay
    assert cache.get("u1", ("context", 0)) is None
    for n in range(10_000):
        cache.put(f"user-{n % 50}", n, n, clock())
    assert len(cache) == 100
    assert cache.invalidate("user-49") is True
    assert len(cache) == 98 and cache.subjects == 49
