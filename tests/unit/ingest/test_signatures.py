"""The HMAC mode's checker: fresh timestamps only, each signature once, memory bounded."""

from ingest.signatures import SignatureChecker, sign

KEY = b"k" * 32


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def headers(body: bytes, at: int) -> tuple[str, str, bytes]:
    return str(at), sign(KEY, at, body), body


def test_window_replay_and_release() -> None:
    clock = Clock(1_000_000)
    checker = SignatureChecker(KEY, tolerance_seconds=300, memory=100, clock=clock)
    assert (
        checker.check(*headers(b"a", 1_000_000 - 301))[0] == "timestamp outside the 300 s tolerance"
    )
    assert checker.check(*headers(b"a", 1_000_000 + 301))[0] is not None
    refused, reserved = checker.check(*headers(b"a", 1_000_000 - 300))
    assert refused is None and reserved
    assert checker.check(*headers(b"a", 1_000_000 - 300))[0] == "signature already used (a replay)"
    checker.release(reserved)  # not written: the same request may come again
    assert checker.check(*headers(b"a", 1_000_000 - 300))[0] is None
    assert checker.check("1000000", "sha256=" + "0" * 64, b"a")[0] == "missing or wrong signature"
    assert (
        checker.check("", sign(KEY, 1_000_000, b"a"), b"a")[0] == "missing or malformed timestamp"
    )


def test_memory_forgets_what_the_window_refuses_anyway_and_stays_bounded() -> None:
    clock = Clock(1_000_000)
    checker = SignatureChecker(KEY, tolerance_seconds=10, memory=50, clock=clock)
    for n in range(40):
        assert checker.check(*headers(b"%d" % n, 1_000_000))[0] is None
    assert len(checker) == 40
    clock.now += 11  # all 40 timestamps are out of the window now
    assert checker.check(*headers(b"new", int(clock.now)))[0] is None
    assert len(checker) == 1
    for n in range(1_000):
        checker.check(*headers(b"burst%d" % n, int(clock.now)))
    assert len(checker) == 50
