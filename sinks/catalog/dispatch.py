"""Due records out as calls of at most 10, within the call window; retries, halving, stops.

Calls are sent one at a time from the sink's poll thread: at 10 calls a second of a few
milliseconds each a pool would only add threads, and sequential calls make the quota exact
(call_window.py). A call's records stay `Entry`s of the coalescer, so an update arriving while
a call waits for its retry is what the retry sends.
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sinks.catalog import metrics
from sinks.catalog.call_window import CallWindow
from sinks.catalog.coalescer import Coalescer, Entry
from sinks.catalog.delivery import Outcome, Verdict, send
from sinks.catalog.kinds import Kind
from sinks.catalog.settings import CatalogSinkSettings

log = logging.getLogger(__name__)

MAX_RECORDS_PER_CALL = 10  # PutUsers' and PutItems' list maximum (botocore's model)

Send = Callable[[Any, Kind, list[Any]], Outcome]


@dataclass(slots=True, eq=False)
class _Call:
    entries: list[Entry]
    not_before: float = 0.0
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Finished:
    """An entry delivered (`reason` None) or refused by Personalize (`reason`: its error)."""

    entry: Entry
    reason: str | None = None


@dataclass
class Dispatcher:
    kind: Kind
    client: Any
    settings: CatalogSinkSettings
    coalescer: Coalescer
    clock: Callable[[], float] = time.monotonic
    sender: Send = send
    jitter: Callable[[float, float], float] = random.uniform
    stopped_by: str | None = None  # the fatal error code stopping delivery
    _window: CallWindow = field(init=False)
    _retries: list[_Call] = field(default_factory=list)  # halves, retries and probes

    def __post_init__(self) -> None:
        self._window = CallWindow(
            self.settings.catalog_sink_rate_limit_calls_per_second, 1.0, self.clock
        )

    def step(self) -> list[Finished]:
        """Send every call that may go now; what finished."""
        finished: list[Finished] = []
        while (call := self._next_call()) is not None:
            if self._window.wait() > 0:
                self._retries.insert(0, call)  # first out once the window allows
                break
            records = [entry.record for entry in call.entries]
            outcome = self.sender(self.client, self.kind, records)
            self._window.finished()
            self._settle(call, outcome, finished)
        metrics.BACKLOG_AGE.labels(kind=self.kind.name).set(self._backlog_age())
        return finished

    def wakeup(self) -> float | None:
        """Seconds until `step` has something to send (None: nothing held)."""
        now = self.clock()
        times = [c.not_before for c in self._retries]
        if self.stopped_by is None and (due := self.coalescer.next_due()) is not None:
            times.append(due)
        if not times:
            return None
        return max(min(times) - now, self._window.wait(), 0.0)

    def forget(self, partitions: set[int]) -> None:
        """Revoked partitions: their records leave the held calls (the new owner re-reads)."""
        for call in self._retries:
            call.entries = [e for e in call.entries if e.partition not in partitions]
        self._retries = [c for c in self._retries if c.entries]

    def _next_call(self) -> _Call | None:
        now = self.clock()
        for index, call in enumerate(self._retries):
            if call.not_before <= now:
                return self._retries.pop(index)
        if self.stopped_by is not None:
            return None  # only the probe goes out until the fatal error is fixed
        entries = self.coalescer.due(MAX_RECORDS_PER_CALL)
        return _Call(entries) if entries else None

    def _settle(self, call: _Call, outcome: Outcome, finished: list[Finished]) -> None:
        now = self.clock()
        kind = self.kind.name
        if outcome.verdict is Verdict.DELIVERED:
            if self.stopped_by is not None:
                log.info("delivery resumed", extra={"kind": kind, "was": self.stopped_by})
                self.stopped_by = None
                metrics.DELIVERY_STOPPED.labels(kind=kind).set(0)
            finished.extend(Finished(entry) for entry in call.entries)
            return
        if outcome.verdict is Verdict.POISON:
            if len(call.entries) == 1:
                finished.append(Finished(call.entries[0], f"{outcome.code}: {outcome.message}"))
                return
            half = len(call.entries) // 2  # the two halves go next, to find the refused ones
            self._retries[0:0] = [_Call(call.entries[:half]), _Call(call.entries[half:])]
            return
        if outcome.verdict is Verdict.FATAL:
            if self.stopped_by is None:
                log.error(
                    "delivery stopped by a fatal error; probing until it is fixed",
                    extra={"kind": kind, "error_code": outcome.code, "error": outcome.message},
                )
            self.stopped_by = outcome.code
            metrics.DELIVERY_STOPPED.labels(kind=kind).set(1)
            call.not_before = now + self.settings.catalog_sink_fatal_retry_seconds
            self._retries.insert(0, call)
            return
        # retryable or unexpected: backoff with full jitter, records kept
        call.attempts += 1
        cap = min(
            self.settings.catalog_sink_backoff_max_seconds,
            self.settings.catalog_sink_backoff_base_seconds * 2 ** (call.attempts - 1),
        )
        call.not_before = now + self.jitter(0.0, cap)
        log.warning(
            "call failed, retrying",
            extra={
                "kind": kind,
                "verdict": outcome.verdict.value,
                "error_code": outcome.code,
                "attempts": call.attempts,
                "records": len(call.entries),
            },
        )
        self._retries.append(call)

    def _backlog_age(self) -> float:
        due = self.coalescer.next_due()
        return max(0.0, self.clock() - due) if due is not None else 0.0
