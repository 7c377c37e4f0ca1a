"""What a failed Personalize data-plane call (PutEvents, PutUsers, PutItems) means, decided
here only, for every sink: retryable, poison, fatal or unexpected.

- retryable: throttling, 5xx, timeouts, connection errors: send again after a backoff.
- poison: the request is invalid (InvalidInputException, the only error botocore's
  personalize-events model lists for PutEvents; a validation error): halve the call to find
  the refused records and dead-letter them with the AWS message.
- fatal: a configuration error no data causes and no retry fixes (the tracker or dataset does
  not exist, the credentials are missing, refused or expired, the request is not allowed): stop
  delivering, keep everything uncommitted, probe until it is fixed.
- unexpected: any other error (a code AWS may add, a proxy's answer, a bug): never dropped,
  retried like a retryable one, counted and alerted on.
"""

from enum import StrEnum

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


class Verdict(StrEnum):
    DELIVERED = "success"
    RETRYABLE = "retryable"
    POISON = "invalid"
    FATAL = "fatal"
    UNEXPECTED = "unexpected"


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
    "ResourceInUseException",  # modelled for PutUsers/PutItems: the dataset is being updated
}
_POISON_CODES = {
    "InvalidInputException",  # PutEvents' only modelled error
    "SerializationException",
    "ValidationException",
    "ValidationError",  # AWS's common error for a parameter that fails its constraints
}
# Configuration: the tracker or dataset (ResourceNotFoundException), the credentials and the
# permissions.
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
    """(verdict, error code, message) for an exception a Personalize data-plane call raised."""
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
