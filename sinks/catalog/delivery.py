"""One PutUsers/PutItems call and what its failure means (`core.aws_errors.classify`, shared
with the Personalize sink).

- retryable: throttling, 5xx, timeouts, connection errors, `ResourceInUseException` (the
  dataset is being created or updated). Retried with backoff (full jitter); every attempt is
  the sink's own (botocore retries nothing) so that each one passes the call window.
- poison: `InvalidInputException` and the like: some record is refused. A call of several is
  halved until the refused records are alone; those are dead-lettered with the reason.
- fatal: an unknown dataset, missing or refused credentials: no data causes it, no retry fixes
  it. Delivery stops (not ready), nothing is committed, the call is probed now and then.
- unexpected: anything else; retried like a retryable one, counted with its exception type.
"""

import time
from dataclasses import dataclass
from typing import Any

from core.aws_errors import Verdict, classify, code_label
from sinks.catalog import metrics
from sinks.catalog.kinds import Kind, Record


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    code: str = ""
    message: str = ""


def send(client: Any, kind: Kind, records: list[Record]) -> Outcome:
    """One attempt; counted by outcome and code (AWS codes not known here count as "other")."""
    started = time.perf_counter()
    try:
        getattr(client, kind.operation)(**kind.request(records))
    except Exception as exc:
        verdict, code, message = classify(exc)
        metrics.CALLS.labels(
            kind=kind.name, outcome=verdict.value, error_code=code_label(exc, code)
        ).inc()
        return Outcome(verdict, code, message)
    finally:
        metrics.CALL_DURATION.labels(kind=kind.name).observe(time.perf_counter() - started)
    metrics.CALLS.labels(kind=kind.name, outcome="success", error_code="").inc()
    metrics.RECORDS_PER_CALL.labels(kind=kind.name).observe(len(records))
    metrics.LAST_SUCCESS.labels(kind=kind.name).set_to_current_time()
    return Outcome(Verdict.DELIVERED)
