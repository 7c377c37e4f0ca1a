"""One PutEvents call and what its failure means: retryable, poison, fatal or unexpected,
decided here only (`classify`).

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
from enum import StrEnum
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
)

from sinks.personalize import metrics
from sinks.personalize.batcher import Call
from sinks.personalize.events import put_events_request

log = logging.getLogger(__name__)


class Verdict(StrEnum):
    DELIVERED = "success"
    RETRYABLE = "retryable"
    POISON = "invalid"
    FATAL = "fatal"
    UNEXPECTED = "unexpected"


@dataclass(slots=True)
class Outcome:
    call: Call
    verdict: Verdict
    error_code: str = ""
    message: str = ""


# Throttling: botocore's standard mode's throttling codes (retries/standard.py,
# ThrottledRetryableChecker; tests/unit/sinks/personalize/test_delivery.py keeps this a
# superset of them).
_THROTTLING_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "EC2ThrottledException",
}
# Transient: botocore's TransientRetryableChecker codes, and AWS's common server errors
# (InternalFailure 500, ServiceUnavailable 503); any 5xx or 429 is retryable whatever its code.
_TRANSIENT_CODES = {
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalServerError",
    "InternalServerException",
}
_POISON_CODES = {
    "InvalidInputException",  # PutEvents' only modelled error
    "SerializationException",
    "ValidationException",
    "ValidationError",  # AWS's common error for a parameter that fails its constraints
}
# Configuration: the tracker (ResourceNotFoundException), the credentials and the permissions.
_FATAL_CODES = {
    "ResourceNotFoundException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "AccessDeniedException",
    "AccessDenied",
    "NotAuthorized",
    "OptInRequired",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",  # the host's clock is off: every call fails alike
}
_RETRYABLE_CODES = _THROTTLING_CODES | _TRANSIENT_CODES
KNOWN_CODES = _RETRYABLE_CODES | _POISON_CODES | _FATAL_CODES
_CONFIGURATION_ERRORS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    NoRegionError,
)


def classify(error: Exception) -> tuple[Verdict, str, str]:
    """(verdict, error code, message) for an exception raised by `put_events`."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", "") or "Unknown")
        message = str(details.get("Message", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _POISON_CODES:
            return Verdict.POISON, code, message
        if code in _FATAL_CODES:
            return Verdict.FATAL, code, message
        if code in _RETRYABLE_CODES or status >= 500 or status == 429:
            return Verdict.RETRYABLE, code, message
        return Verdict.UNEXPECTED, code, message
    if isinstance(error, ParamValidationError):
        return Verdict.POISON, "ParamValidationError", str(error)
    if isinstance(error, _CONFIGURATION_ERRORS):
        return Verdict.FATAL, type(error).__name__, str(error)
    if isinstance(error, ConnectionError | HTTPClientError):  # timeouts, refused, reset
        return Verdict.RETRYABLE, type(error).__name__, str(error)
    if isinstance(error, BotoCoreError):
        return Verdict.UNEXPECTED, type(error).__name__, str(error)
    return Verdict.UNEXPECTED, type(error).__name__, repr(error)[:1000]  # a bug: retried


def code_label(error: Exception, code: str) -> str:
    """The error_code label: an exception type's name, or an AWS code we know; any other code
    (the answering server's text, unbounded) is "other" (the log line has it)."""
    return code if not isinstance(error, ClientError) or code in KNOWN_CODES else "other"


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
