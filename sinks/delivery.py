"""One PutEvents call and what its failure means: retryable, poison or fatal, decided here only.

- retryable: throttling, 5xx, timeouts, connection errors. botocore's standard mode already
  retried inside the call; the runner re-queues it with the sink's own backoff (`backoff`).
- poison: the request is invalid (InvalidInputException). The runner splits the call to find
  the offending events and dead-letters them with the AWS message; the others are delivered.
- fatal: the tracker does not exist, the credentials are refused, or an unknown 4xx. No data
  is at fault: the runner stops delivery, fails readiness, keeps everything uncommitted and
  probes until the cause is fixed.
"""

import logging
import random
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
)

from sinks import metrics
from sinks.batcher import Call
from sinks.personalize_client import put_events_request

log = logging.getLogger(__name__)


class Verdict(StrEnum):
    DELIVERED = "success"
    RETRYABLE = "retryable"
    POISON = "invalid"
    FATAL = "fatal"


@dataclass(slots=True)
class Outcome:
    call: Call
    verdict: Verdict
    error_code: str = ""
    message: str = ""


# Codes botocore's standard mode treats as throttling or transient (botocore/retries/standard.py).
_RETRYABLE_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalServerError",
}
_POISON_CODES = {"InvalidInputException", "SerializationException", "ValidationException"}
# Listed for the reader: any other 4xx is fatal too (keeping data is the safe default).
_FATAL_CODES = {
    "ResourceNotFoundException",
    "UnrecognizedClientException",
    "AccessDeniedException",
    "AccessDenied",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredTokenException",
    "MissingAuthenticationToken",
}


def classify(error: Exception) -> tuple[Verdict, str, str]:
    """(verdict, error code, message) for an exception raised by `put_events`."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", "Unknown"))
        message = str(details.get("Message", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _POISON_CODES:
            return Verdict.POISON, code, message
        if code in _RETRYABLE_CODES or status >= 500 or status == 429:
            return Verdict.RETRYABLE, code, message
        return Verdict.FATAL, code, message  # _FATAL_CODES and any other 4xx
    if isinstance(error, ParamValidationError):
        return Verdict.POISON, "ParamValidationError", str(error)
    if isinstance(error, NoCredentialsError | PartialCredentialsError):
        return Verdict.FATAL, type(error).__name__, str(error)
    if isinstance(error, ConnectionError | HTTPClientError):  # timeouts, refused, reset
        return Verdict.RETRYABLE, type(error).__name__, str(error)
    if isinstance(error, BotoCoreError):
        return Verdict.FATAL, type(error).__name__, str(error)
    return Verdict.FATAL, type(error).__name__, repr(error)  # a bug: keep the data, stop


def backoff(attempt: int, base: float, cap: float, draw: Any = random.random) -> float:
    """Exponential backoff with full jitter: a random delay below min(cap, base * 2**attempt)."""
    return float(draw() * min(cap, base * 2**attempt))


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
            metrics.CALLS.labels(outcome=verdict.value, error_code=code).inc()
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
