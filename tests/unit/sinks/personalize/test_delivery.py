"""Failure classes in one place, the shared rate limit, a dry run's log."""

import logging
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from core.logs import JsonFormatter
from sinks.personalize.delivery import Verdict, classify, code_label
from sinks.personalize.rate_limit import RateLimiter


def client_error(code: str, status: int) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "PutEvents")  # type: ignore[arg-type]


def test_classification() -> None:
    assert classify(client_error("ThrottlingException", 400))[0] is Verdict.RETRYABLE
    assert classify(client_error("ServiceUnavailable", 503))[0] is Verdict.RETRYABLE
    assert classify(client_error("InternalFailure", 500))[0] is Verdict.RETRYABLE
    assert classify(client_error("Whatever", 500))[0] is Verdict.RETRYABLE
    assert classify(client_error("", 429))[0] is Verdict.RETRYABLE
    assert classify(EndpointConnectionError(endpoint_url="http://x"))[0] is Verdict.RETRYABLE
    assert classify(client_error("InvalidInputException", 400)) == (
        Verdict.POISON,
        "InvalidInputException",
        "m",
    )
    assert classify(client_error("ValidationException", 400))[0] is Verdict.POISON
    for code in (
        "ResourceNotFoundException",
        "UnrecognizedClientException",
        "AccessDeniedException",
        "AccessDenied",
        "ExpiredTokenException",
        "InvalidSignatureException",
    ):
        assert classify(client_error(code, 400))[0] is Verdict.FATAL, code
    assert classify(NoCredentialsError())[0] is Verdict.FATAL
    # Anything else is retried with backoff and alerted on: neither dropped nor stopping all.
    assert classify(client_error("SomethingNew", 403))[0] is Verdict.UNEXPECTED
    assert classify(client_error("", 418))[0] is Verdict.UNEXPECTED
    assert classify(RuntimeError("a bug"))[0] is Verdict.UNEXPECTED


def test_every_code_botocores_standard_mode_retries_is_retryable_here() -> None:
    """botocore's own lists (retries/standard.py): a botocore upgrade adding codes fails here."""
    from botocore.retries import standard

    for code in standard.ThrottledRetryableChecker._THROTTLED_ERROR_CODES:
        assert classify(client_error(code, 400))[0] is Verdict.RETRYABLE, code
    for code in standard.TransientRetryableChecker._TRANSIENT_ERROR_CODES:
        assert classify(client_error(code, 400))[0] is Verdict.RETRYABLE, code
    for status in standard.TransientRetryableChecker._TRANSIENT_STATUS_CODES:
        assert classify(client_error("Unheard", status))[0] is Verdict.RETRYABLE, status


def test_putevents_modelled_errors_are_classified() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("personalize-events")
    for shape in model.operation_model("PutEvents").error_shapes:
        assert classify(client_error(shape.name, 400))[0] is Verdict.POISON


def test_error_code_labels_are_bounded() -> None:
    assert code_label(client_error("ThrottlingException", 400), "ThrottlingException") == (
        "ThrottlingException"
    )
    assert code_label(client_error("x" * 10_000, 400), "x" * 10_000) == "other"
    assert code_label(RuntimeError(), "RuntimeError") == "RuntimeError"


def test_rate_limiter_spaces_tokens_after_a_short_burst() -> None:
    clock = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(100, burst=2, clock=lambda: clock[0], sleep=sleep)
    clock[0] = 10.0  # idle for a while: only the burst is saved up, not 10 s of tokens
    waits = [limiter.acquire() for _ in range(6)]
    assert waits[:3] == [0.0, 0.0, 0.0]  # 2 saved tokens + the current one
    assert [round(w, 6) for w in waits[3:]] == [0.01, 0.01, 0.01]
    assert round(clock[0] - 10.0, 6) == 0.03


def test_take_never_blocks_and_says_how_long_until_the_next_token() -> None:
    clock = [0.0]
    limiter = RateLimiter(100, burst=1, clock=lambda: clock[0], sleep=_no_sleep)
    clock[0] = 10.0  # idle: one token saved up
    assert [limiter.take() for _ in range(2)] == [0.0, 0.0]  # the saved token + the current
    assert round(limiter.take(), 6) == 0.01  # none free: nothing taken, 10 ms to wait
    assert round(limiter.take(), 6) == 0.01  # still nothing taken
    clock[0] += 0.01
    assert limiter.take() == 0.0
    assert round(limiter.acquire(), 6) == 0.01  # acquire and take share the bucket


def _no_sleep(_seconds: float) -> None:
    pass


def test_dry_run_logs_counts_not_ids(caplog: pytest.LogCaptureFixture) -> None:
    """A dry run logs what it would send without user, session or item ids (personal data)."""
    from sinks.personalize.batcher import Call, Pending
    from sinks.personalize.delivery import Delivery

    event = {"eventType": "click", "itemId": "item-secret-42", "sentAt": datetime.now(UTC)}
    call = Call(0, "user-secret-7", "session-secret-9", [Pending(0, 1, event, b"{}")])
    with caplog.at_level(logging.INFO, logger="sinks.personalize.delivery"):
        outcome = Delivery(None, "tracker").send(call)
    assert outcome.verdict is Verdict.DELIVERED
    (record,) = [r for r in caplog.records if r.getMessage().startswith("dry run")]
    line = JsonFormatter("sink").format(record)
    assert '"events":1' in line and "click" in line
    for personal in ("user-secret-7", "session-secret-9", "item-secret-42"):
        assert personal not in line
