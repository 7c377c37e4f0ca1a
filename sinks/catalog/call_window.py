"""At most N calls in any one second, as Personalize sees them (its PutUsers/PutItems quota).

A token bucket that paces calls at 1/N s (sinks/personalize/rate_limit.py) still lets N + 1 calls
land in one second, through its burst or through one call's network delay differing from
another's. Calls here are sequential, so the rule is stricter and exact: a call starts only
once N calls ago *finished* a period ago. AWS receives a call between its start and its end, so
any N + 1 consecutive calls reach it more than a period apart, whatever the delays.
"""

import time
from collections import deque
from collections.abc import Callable


class CallWindow:
    def __init__(
        self, calls: int, period: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._period = period
        self._clock = clock
        self._ends: deque[float] = deque(maxlen=calls)  # the last N calls' end times

    def wait(self) -> float:
        """Seconds until the next call may start (0.0: now)."""
        if len(self._ends) < (self._ends.maxlen or 0):
            return 0.0
        return max(0.0, self._ends[0] + self._period - self._clock())

    def finished(self) -> None:
        """A call (any attempt, failed or not) just ended."""
        self._ends.append(self._clock())
