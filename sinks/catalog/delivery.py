"""One PutUsers/PutItems call and what its failure means, decided here only (`classify`).

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

from sinks.catalog import metrics
from sinks.catalog.kinds import Kind, Record


class Verdict(StrEnum):
    DELIVERED = "success"
    RETRYABLE = "retryable"
    POISON = "invalid"
    FATAL = "fatal"
    UNEXPECTED = "unexpected"


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    code: str = ""
    message: str = ""


_POISON = {"InvalidInputException", "SerializationException", "ValidationException"}
_FATAL = {
    "ResourceNotFoundException",  # the dataset ARN
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "AccessDeniedException",
    "AccessDenied",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
}
_RETRYABLE = {
    "ResourceInUseException",  # modelled for PutUsers/PutItems: the dataset is busy
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "LimitExceededException",
    "RequestTimeout",
    "RequestTimeoutException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "InternalFailure",
    "InternalServerError",
    "InternalServerException",
}
KNOWN_CODES = _POISON | _FATAL | _RETRYABLE
_CONFIGURATION_ERRORS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    NoRegionError,
)


def classify(error: Exception) -> Outcome:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = str(details.get("Code", "") or "Unknown")
        message = str(details.get("Message", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _POISON:
            return Outcome(Verdict.POISON, code, message)
        if code in _FATAL:
            return Outcome(Verdict.FATAL, code, message)
        if code in _RETRYABLE or status >= 500 or status == 429:
            return Outcome(Verdict.RETRYABLE, code, message)
        return Outcome(Verdict.UNEXPECTED, code, message)
    if isinstance(error, ParamValidationError):
        return Outcome(Verdict.POISON, "ParamValidationError", str(error))
    if isinstance(error, _CONFIGURATION_ERRORS):
        return Outcome(Verdict.FATAL, type(error).__name__, str(error))
    if isinstance(error, ConnectionError | HTTPClientError):
        return Outcome(Verdict.RETRYABLE, type(error).__name__, str(error))
    if isinstance(error, BotoCoreError):
        return Outcome(Verdict.UNEXPECTED, type(error).__name__, str(error))
    return Outcome(Verdict.UNEXPECTED, type(error).__name__, repr(error)[:1000])


def send(client: Any, kind: Kind, records: list[Record]) -> Outcome:
    """One attempt; counted by outcome and code (AWS codes not known here count as "other")."""
    started = time.perf_counter()
    try:
        getattr(client, kind.operation)(**kind.request(records))
    except Exception as exc:
        outcome = classify(exc)
        label = outcome.code
        if isinstance(exc, ClientError) and label not in KNOWN_CODES:
            label = "other"
        metrics.CALLS.labels(kind=kind.name, outcome=outcome.verdict.value, error_code=label).inc()
        return outcome
    finally:
        metrics.CALL_DURATION.labels(kind=kind.name).observe(time.perf_counter() - started)
    metrics.CALLS.labels(kind=kind.name, outcome="success", error_code="").inc()
    metrics.RECORDS_PER_CALL.labels(kind=kind.name).observe(len(records))
    metrics.LAST_SUCCESS.labels(kind=kind.name).set_to_current_time()
    return Outcome(Verdict.DELIVERED)
