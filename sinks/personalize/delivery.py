"""One PutEvents call and what its failure means: retryable, poison, fatal or unexpected,
decided for every sink by `core.aws_errors.classify`; here, what the Personalize sink does.

- retryable: throttling, 5xx, timeouts, connection errors. botocore's standard mode already
  retried inside the call; the dispatcher (dispatch.py) re-queues it with the sink's own
  backoff.
- poison: the request is invalid (InvalidInputException, the only error botocore's
  personalize-events model lists for PutEvents; a validation error). The dispatcher halves the
  call to find the offending events; the poll loop dead-letters them with the AWS message; the
  others go on.
- fatal: a configuration error no data causes and no retry fixes: the tracker does not exist,
  the credentials are missing, refused or expired, the request is not allowed. The dispatcher
  stops delivery, fails readiness, keeps everything uncommitted and probes until it is fixed.
- unexpected: any other error (a code AWS may add, a proxy's answer, a bug). Never dropped and
  never stopping the other partitions: the call is retried with the sink's backoff like a
  retryable one, counted as `sink_put_events_calls_total{outcome="unexpected"}` (alerted on:
  SinkUnexpectedPutEventsErrors, docs/runbook.md) and logged with its code.
"""

import logging
import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from core.aws_errors import Verdict, classify, code_label
from sinks.personalize import metrics
from sinks.personalize.batcher import Call
from sinks.personalize.events import put_events_request

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Outcome:
    call: Call
    verdict: Verdict
    error_code: str = ""
    message: str = ""


class Delivery:
    """Sends one call with the shared client (from any pool thread) and counts what happened."""

    def __init__(self, client: Any, tracking_id: str) -> None:
        self._client = client
        self._tracking_id = tracking_id
        # The success path's labelled series, looked up once (`labels()` costs a few us a call).
        self._succeeded = metrics.CALLS.labels(outcome="success", error_code="")
        self._delivered = metrics.EVENTS.labels(outcome="delivered")
        self._retried = metrics.EVENTS.labels(outcome="retried")

    def send(self, call: Call) -> Outcome:
        events = len(call.items)
        request = put_events_request(self._tracking_id, call)
        if self._client is None:
            # Counts and types only: user, session and item ids are personal data.
            log.info(
                "dry run: would send PutEvents",
                extra={
                    "events": events,
                    "event_types": sorted({e["eventType"] for e in request["eventList"]}),
                },
            )
            metrics.CALLS.labels(outcome="dry_run", error_code="").inc()
            metrics.EVENTS.labels(outcome="dry_run").inc(events)
            return Outcome(call, Verdict.DELIVERED)
        started = time.perf_counter()
        try:
            response = self._client.put_events(**request)
        except Exception as exc:
            metrics.CALL_DURATION.observe(time.perf_counter() - started)
            verdict, code, message = classify(exc)
            metrics.CALLS.labels(outcome=verdict.value, error_code=code_label(exc, code)).inc()
            if isinstance(exc, ClientError):
                retries = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
                if retries:
                    self._retried.inc(events * retries)
            return Outcome(call, verdict, code, message)
        metrics.CALL_DURATION.observe(time.perf_counter() - started)
        retries = response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        if retries:
            self._retried.inc(events * retries)
        self._succeeded.inc()
        self._delivered.inc(events)
        metrics.EVENTS_PER_CALL.observe(events)
        metrics.LAST_SUCCESS.set_to_current_time()
        return Outcome(call, Verdict.DELIVERED)
