"""A token bucket for PutEvents attempts: the sink stays under the account's quota.

Every HTTP attempt takes a token, retries included, because AWS counts attempts, not logical calls.
A call's first attempt takes its token in the sink's poll thread (`take`, which never blocks) before
the call is handed to the pool: a pool thread sleeping for a token and waking again cost the sink a
large share of its CPU (bench/README.md, "Sink"). Retries inside a call take theirs in the pool
thread (`acquire`: the lean sender before each retry, the boto3 client through botocore's
`before-send` event).
"""

import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        per_second: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._interval = 1.0 / per_second
        # A short burst absorbs scheduling jitter without exceeding the rate over a second.
        self._burst = burst if burst is not None else max(1.0, per_second / 20)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next = clock()  # when the next token is free (virtual scheduling)

    def take(self) -> float:
        """Take a token if one is free now and return 0.0; else take none and return the wait."""
        with self._lock:
            now = self._clock()
            start = self._free_at(now)
            if start > now:
                return start - now
            self._next = start + self._interval
            return 0.0

    def available(self) -> int:
        """How many tokens `take` would hand out now, taking none (quota-aware batching)."""
        with self._lock:
            now = self._clock()
            start = self._free_at(now)
            if start > now:
                return 0
            return int((now - start) / self._interval) + 1

    def acquire(self) -> float:
        """Block until a token is free; return the time waited."""
        with self._lock:
            now = self._clock()
            start = self._free_at(now)
            self._next = start + self._interval
            wait = start - now
        if wait > 0:
            self._sleep(wait)
            return wait
        return 0.0

    def _free_at(self, now: float) -> float:
        """When the next token is free: at most the burst saved up (call with the lock held)."""
        earliest = now - self._burst * self._interval
        return self._next if self._next > earliest else earliest
