"""A token bucket shared by the PutEvents threads: the sink stays under the account's quota.

Every HTTP attempt takes a token, retries included (the lean sender calls `acquire` before each
attempt; with the boto3 client it is hooked into botocore's `before-send` event), because AWS
counts attempts, not logical calls.
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

    def acquire(self) -> float:
        """Block until a token is free; return the time waited."""
        with self._lock:
            now = self._clock()
            earliest = now - self._burst * self._interval
            start = self._next if self._next > earliest else earliest
            self._next = start + self._interval
            wait = start - now
        if wait > 0:
            self._sleep(wait)
            return wait
        return 0.0
