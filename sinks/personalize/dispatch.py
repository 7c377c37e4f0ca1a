"""The sink's flush: PutEvents calls out to a bounded pool, their outcomes back, and what follows.

The poll loop (sink.py) hands calls over (`submit`), lets them go (`dispatch`) and takes the
finished ones back (`collect`), all from its one thread: the pool's threads only send a call
and queue its outcome, so the send queue, the retries and the counts here are touched by the
loop's thread alone, and so are the batcher and the offsets, which stay in the loop.

- In flight: at most 2 x `sink_threads` calls in the pool (a queued call per busy thread), and
  at most 4 x `sink_threads` in all: a call counts from its submission to the pool until the
  loop no longer holds it (its delivery-log record acknowledged: the loop passes that count to
  `dispatch`). The log's acknowledgement takes about as long as a call on a busy broker, so a
  slot shared by both would halve the calls/s the pool can reach (bench/README.md).
- Tokens: a call's first attempt takes its token from the shared rate limiter here, without
  blocking: a call without one waits for the next turn (rate_limit.py).
- Quota-aware batching (`SINK_BATCHING=quota`, `take_lingered`): at the rate limit a lingered
  group leaves the batcher only when a token and a slot are free for it, the oldest first; the
  others keep lingering, and taking their sessions' events, instead of waiting in the send
  queue as they are. Below the limit every lingered group goes at once, as with `fixed`.
- Retries: botocore retries inside a call; after that the call is re-queued with the sink's
  own exponential backoff (`backoff`), never dropped. An unexpected error is retried alike
  (only that call waits) and logged with its code.
- Poison: a call Personalize refuses as invalid is halved until the offending events are
  alone, the halves first in their partition's queue; an event refused alone goes back to the
  loop, which dead-letters it with the AWS message. The other events go on.
- Fatal errors stop delivery (`sink_delivery_stopped` 1, /readyz 503) and keep the call: with
  it one probe at a time, every `sink_fatal_retry_seconds`, until a call is delivered again.
  Nothing is dropped, so nothing is committed meanwhile.
"""

import heapq
import itertools
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from sinks.personalize import metrics
from sinks.personalize.batcher import Batcher, Call
from sinks.personalize.delivery import Outcome, Verdict
from sinks.personalize.rate_limit import RateLimiter
from sinks.personalize.send_queue import SendQueue
from sinks.personalize.settings import SinkSettings

log = logging.getLogger(__name__)

# The loop's consume() cannot be woken by a finished call, so while calls are in flight or wait
# for a token it waits at most one turn: long enough that each turn hands the pool a burst of
# calls (the core works through them together instead of waking from idle once per call, a
# measurable share of the sink's CPU at 1,000 calls/s: bench/README.md), short enough that the
# in-flight cap allows the rate with room to spare. A call holds its pool slot about two turns
# (it goes out, its result is collected the turn after), so a turn is a quarter of pool_slots /
# rate: 4 ms for 16 slots at 1,000 calls/s.
_LONGEST_TURN_SECONDS = 0.01
_SHORTEST_TURN_SECONDS = 0.001


def backoff(attempt: int, base: float, cap: float, draw: Any = random.random) -> float:
    """Exponential backoff with full jitter: a random delay below min(cap, base * 2**attempt)."""
    return float(draw() * min(cap, base * 2**attempt))


class Dispatcher:
    """Sends calls in a bounded pool; retries, halves or holds them by their outcome.

    `send` is one PutEvents call in a pool thread (`Delivery.send`); `current` tells whether
    a finished call still belongs to its partition's assignment (else its outcome is dropped:
    the partition's new owner re-reads its records)."""

    def __init__(
        self,
        settings: SinkSettings,
        send: Callable[[Call], Outcome],
        limiter: RateLimiter,
        current: Callable[[Call], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._send = send
        self._limiter = limiter
        self._current = current
        self._clock = clock
        # The pool: plain threads taking calls from one queue (no futures: the outcome comes
        # back through `_results`), started with the first call.
        self._work: queue.SimpleQueue[Call | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self.pool_slots = 2 * settings.sink_threads  # handed to the pool, not collected yet
        self.max_in_flight = 2 * self.pool_slots  # and those whose log record is not stored
        turn = self.pool_slots / settings.sink_rate_limit_calls_per_second / 4
        self.turn = min(_LONGEST_TURN_SECONDS, max(_SHORTEST_TURN_SECONDS, turn))
        self.in_flight = 0  # handed to the pool, outcome not collected yet
        self.stopped_by: str | None = None  # the fatal error code while delivery is stopped
        self._results: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._ready = SendQueue()
        self._retries: list[tuple[float, int, Call]] = []  # heap of (due time, seq, call)
        self._sequence = itertools.count()
        self._next_probe = 0.0
        self._quota_aware = settings.sink_batching == "quota"

    @property
    def busy(self) -> bool:
        """Calls are out, or could go: the loop should come back within a turn."""
        return bool(self.in_flight or (self._ready and self.stopped_by is None))

    def submit(self, call: Call, *, first: bool = False) -> None:
        """Queue a call to send; `first`: ahead of its partition's others (a commit holder)."""
        if first:
            self._ready.push_front(call)
        else:
            self._ready.append(call)

    def submit_all(self, calls: Iterable[Call]) -> None:
        self._ready.extend(calls)

    def take_lingered(self, batcher: Batcher, held: int = 0) -> None:
        """Queue the batcher's lingered groups: all of them (`fixed`), or only as many as can
        go this turn (`quota`), so that at the limit the rest keep growing towards 10 events."""
        if not self._quota_aware:
            self.submit_all(batcher.due())
        elif room := self.room(held):
            self.submit_all(batcher.due(room))

    def room(self, held: int = 0) -> int:
        """Calls that could be handed to the pool now beyond those queued: free in-flight
        slots and free tokens, whichever are fewer (none while delivery is stopped)."""
        if self.stopped_by is not None:
            return 0
        return max(0, min(self._free_slots(held), self._limiter.available()) - len(self._ready))

    def _free_slots(self, held: int) -> int:
        """Calls the pool may take now: under its own cap, and under the in-flight cap that
        also counts the `held` calls awaiting their delivery-log record."""
        return min(self.pool_slots - self.in_flight, self.max_in_flight - self.in_flight - held)

    def dispatch(self, held: int = 0) -> None:
        """Send what the in-flight cap and the tokens allow (`held`: calls finished here but
        still in flight for the loop); while stopped, one probe at a time, when due."""
        now = self._clock()
        while self._retries and self._retries[0][0] <= now:
            self._ready.push_front(heapq.heappop(self._retries)[2])
        if self.stopped_by is not None:
            # One probe at a time, with the held call, until the cause is fixed.
            if self._ready and self.in_flight == 0 and now >= self._next_probe:
                if not self._limiter.take():
                    self._next_probe = now + self._settings.sink_fatal_retry_seconds
                    self._hand_over(self._ready.pop())
            return
        # A call's first attempt takes its token here, without blocking: the rest wait a turn.
        while self._ready and self._free_slots(held) > 0:
            if self._limiter.take():
                return
            self._hand_over(self._ready.pop())

    def collect(self, wait: float = 0.0) -> list[Outcome]:
        """Take every outcome that came back (waiting up to `wait` for the first one); return
        what the loop settles: delivered calls, and poison events alone (to dead-letter)."""
        settled: list[Outcome] = []
        while True:
            try:
                outcome = self._results.get(timeout=wait) if wait else self._results.get_nowait()
            except queue.Empty:
                return settled
            wait = 0.0
            self.in_flight -= 1
            metrics.IN_FLIGHT.set(self.in_flight)
            if self._current(outcome.call) and self._handle(outcome):
                settled.append(outcome)

    def forget(self, partitions: Iterable[int]) -> None:
        """Drop the queued and waiting calls of revoked or lost partitions."""
        gone = set(partitions)
        self._ready.drop(gone)
        self._retries = [r for r in self._retries if r[2].partition not in gone]
        heapq.heapify(self._retries)

    def close(self) -> None:
        """Wait for the calls in the pool; cancel what it has not started."""
        while True:
            try:
                self._work.get_nowait()
            except queue.Empty:
                break
        for _ in self._threads:
            self._work.put(None)
        for thread in self._threads:
            thread.join()
        self._threads = []

    def _hand_over(self, call: Call) -> None:
        self.in_flight += 1
        metrics.IN_FLIGHT.set(self.in_flight)
        if not self._threads:
            for n in range(self._settings.sink_threads):
                thread = threading.Thread(target=self._work_on, name=f"put-events_{n}", daemon=True)
                thread.start()
                self._threads.append(thread)
        self._work.put(call)

    def _work_on(self) -> None:  # a pool thread: send calls until close() says stop (None)
        take, answer, send = self._work.get, self._results.put, self._send
        while (call := take()) is not None:
            try:
                outcome = send(call)
            except Exception as exc:  # a bug in sending: retried like an unexpected error
                # The type only: a message may quote the call's data.
                log.error("PutEvents call raised", extra={"error_type": type(exc).__name__})
                outcome = Outcome(call, Verdict.UNEXPECTED, type(exc).__name__)
            answer(outcome)

    def _handle(self, outcome: Outcome) -> bool:
        """Act on one outcome; True when the loop settles it."""
        call = outcome.call
        if outcome.verdict is Verdict.DELIVERED:
            if self.stopped_by is not None:
                log.info("delivery resumed", extra={"after": self.stopped_by})
                self.stopped_by = None
                metrics.DELIVERY_STOPPED.set(0)
            return True
        if outcome.verdict in (Verdict.RETRYABLE, Verdict.UNEXPECTED):
            if outcome.verdict is Verdict.UNEXPECTED:
                # Retried like a throttled call (only this call waits) and alerted on.
                log.warning(
                    "unexpected PutEvents error: retrying the call with backoff",
                    extra={
                        "error_code": outcome.error_code[:200],  # the message may hold data
                        "attempts": call.attempts + 1,
                    },
                )
            call.attempts += 1
            metrics.EVENTS.labels(outcome="retried").inc(len(call.items))
            delay = backoff(
                call.attempts,
                self._settings.sink_backoff_base_seconds,
                self._settings.sink_backoff_max_seconds,
            )
            due = self._clock() + delay
            heapq.heappush(self._retries, (due, next(self._sequence), call))
            return False
        if outcome.verdict is Verdict.POISON:
            if len(call.items) == 1:
                return True
            half = len(call.items) // 2  # halve until the offending events are alone
            for part in (call.items[half:], call.items[:half]):  # the halves go first
                self._ready.push_front(
                    Call(call.partition, call.user_id, call.session_id, part, call.started)
                )
            return False
        if self.stopped_by is None:
            log.error(
                "delivery stopped: fatal PutEvents error; nothing is committed or dropped, "
                "probing every %ss",
                self._settings.sink_fatal_retry_seconds,
                extra={"error_code": outcome.error_code, "error": outcome.message},
            )
            self.stopped_by = outcome.error_code
            self._next_probe = self._clock() + self._settings.sink_fatal_retry_seconds
            metrics.DELIVERY_STOPPED.set(1)
        self._ready.push_front(call)
        return False
