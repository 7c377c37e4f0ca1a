"""The boto3 personalize-events client, and interactions as PutEvents events and requests.

Build the client once and share it: building one costs ~1.7 ms, and botocore clients are
thread-safe. Throttling, 5xx and connection errors are retried inside a call by botocore's
'standard' mode; every HTTP attempt first takes a token from the shared rate limiter.
"""

from functools import cache
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.model import Shape

from pipeline.service_model import validate
from schemas import Interaction
from sinks.batcher import Call
from sinks.rate_limit import RateLimiter
from sinks.settings import SinkSettings


def check_configured(settings: SinkSettings) -> None:
    """Refuse to start (SystemExit with what to set) when there is nowhere to deliver."""
    if settings.sink_dry_run:
        return
    if not settings.aws_personalize_tracking_id:
        raise SystemExit(
            "AWS_PERSONALIZE_TRACKING_ID is not set: set it (and PERSONALIZE_ENDPOINT_URL "
            "for the emulator), or set SINK_DRY_RUN=true to only log and count what would be sent"
        )
    if boto3.Session().get_credentials() is None:
        where = settings.personalize_endpoint_url or "AWS"
        raise SystemExit(
            f"no AWS credentials found by boto3's chain, so PutEvents to {where} cannot be "
            "signed: configure credentials (the emulator accepts any, e.g. AWS_ACCESS_KEY_ID="
            "test), or set SINK_DRY_RUN=true to only log and count what would be sent"
        )


def build_client(settings: SinkSettings, limiter: RateLimiter) -> Any:
    config = Config(
        retries={"mode": "standard", "max_attempts": settings.sink_max_attempts},
        max_pool_connections=settings.sink_threads,
        connect_timeout=5,
        read_timeout=10,
        # Every event was checked against the same model when consumed (`event_problems`).
        parameter_validation=False,
    )
    client = boto3.client(
        "personalize-events",
        region_name=settings.aws_region,
        endpoint_url=settings.personalize_endpoint_url or None,  # "" (compose) means AWS
        config=config,
    )

    def take_token(**_: Any) -> None:  # returning None lets botocore send the request
        limiter.acquire()

    client.meta.events.register("before-send.personalize-events.PutEvents", take_token)
    return client


def to_event(interaction: Interaction) -> dict[str, Any]:
    """One PutEvents event: the weight as eventValue, the stable event id as eventId."""
    event: dict[str, Any] = {
        "eventId": interaction.event_id,
        "eventType": interaction.personalize_event_type,
        "eventValue": interaction.weight,
        "itemId": interaction.item_id,
        "sentAt": interaction.timestamp_ms / 1000,  # rest-json timestamps are epoch seconds
    }
    if interaction.impression:
        event["impression"] = interaction.impression
    if interaction.recommendation_id:
        event["recommendationId"] = interaction.recommendation_id
    return event


@cache
def _shapes() -> tuple[Shape, Shape, Shape]:
    request = (
        botocore.session.get_session()
        .get_service_model("personalize-events")
        .operation_model("PutEvents")
        .input_shape
    )
    return (
        request.members["eventList"].member,
        request.members["userId"],
        request.members["sessionId"],
    )


def event_problems(user_id: str | None, session_id: str, event: dict[str, Any]) -> list[str]:
    """Every PutEvents limit the event breaks (lengths, properties <= 1024, impression <= 25...),
    read from botocore's model: such an event can never be accepted, so it is dead-lettered."""
    event_shape, user_shape, session_shape = _shapes()
    problems = validate(event_shape, event)
    if user_id is not None:
        problems += validate(user_shape, user_id, "userId")
    return problems + validate(session_shape, session_id, "sessionId")


def put_events_request(tracking_id: str, call: Call) -> dict[str, Any]:
    request: dict[str, Any] = {
        "trackingId": tracking_id,
        "sessionId": call.session_id,
        "eventList": [item.event for item in call.items],
    }
    if call.user_id:
        request["userId"] = call.user_id
    return request
