"""The personalize-events client, and interactions as PutEvents events and requests.

Build the client once and share it: building one costs ~1.7 ms, and botocore clients are
thread-safe. By default its `put_events` goes through the lean sender (put_events_http.py,
botocore's pieces without its per-call machinery); SINK_PUT_EVENTS_CLIENT=boto3 keeps boto3's.
Throttling, 5xx and connection errors are retried inside a call by botocore's 'standard' retry
policy; every retry first takes a token from the shared rate limiter (the sink's poll thread
took the first attempt's before handing the call to the pool).
"""

from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.model import Shape

from core.service_model import validate
from sinks.personalize.batcher import Call
from sinks.personalize.interaction_decoder import InteractionFields
from sinks.personalize.put_events_http import LeanPutEvents
from sinks.personalize.rate_limit import RateLimiter
from sinks.personalize.settings import SinkSettings


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
    """What `Delivery` calls `put_events` on: the lean sender (default) or the boto3 client."""
    config = Config(
        retries={"mode": "standard", "total_max_attempts": settings.sink_max_attempts},
        max_pool_connections=settings.sink_threads,
        connect_timeout=5,
        read_timeout=10,
        # Every event was checked against the same model when consumed (`event_problems`).
        parameter_validation=False,
    )
    core = botocore.session.get_session()  # its settings give the TLS trust below
    session = boto3.Session(botocore_session=core)
    client = session.client(
        "personalize-events",
        region_name=settings.aws_region,
        endpoint_url=settings.personalize_endpoint_url or None,  # "" (compose) means AWS
        config=config,
    )

    def take_token(request: Any, **_: Any) -> None:  # returning None lets botocore send it
        # botocore's retry header, "attempt=N; max=M": the first attempt's token is taken
        header = request.headers.get("amz-sdk-request", "")
        header = header.decode() if isinstance(header, bytes) else header
        if header.split(";")[0].strip() != "attempt=1":
            limiter.acquire()

    client.meta.events.register("before-send.personalize-events.PutEvents", take_token)
    if settings.sink_put_events_client == "boto3":
        return client
    credentials = session.get_credentials()
    assert credentials is not None  # check_configured refused to start without them
    # TLS trust as boto3's: AWS_CA_BUNDLE or the profile's ca_bundle, else botocore's bundle.
    ca_bundle = core.get_config_variable("ca_bundle")
    return LeanPutEvents(client, credentials, limiter, settings.sink_max_attempts, ca_bundle)


def to_event(interaction: InteractionFields) -> dict[str, Any]:
    """One PutEvents event: the weight as eventValue, the stable event id as eventId."""
    event: dict[str, Any] = {
        "eventId": interaction.event_id,
        "eventType": interaction.personalize_event_type,
        "eventValue": interaction.weight,
        "itemId": interaction.item_id,
        # An aware datetime: botocore serializes it without parsing (a float costs ~30 us).
        "sentAt": datetime.fromtimestamp(interaction.timestamp_ms / 1000, UTC),
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
    members = request.members
    return members["eventList"].member, members["userId"], members["sessionId"]


Bounds = tuple[int, int]


@cache
def _length_bounds() -> tuple[dict[str, Bounds], dict[str, tuple[Bounds, Bounds]], Bounds, Bounds]:
    """(min, max) lengths of the event's plain string and string-list members, from the model:
    the fast check every event passes through before the full walk (which explains failures)."""
    event_shape, user_shape, session_shape = _shapes()

    def bounds(shape: Shape) -> Bounds | None:
        plain = not shape.metadata.get("pattern") and not getattr(shape, "enum", None)
        if shape.type_name != "string" or not plain:
            return None
        return shape.metadata.get("min", 0), shape.metadata.get("max", 1 << 62)

    strings: dict[str, Bounds] = {}
    lists: dict[str, tuple[Bounds, Bounds]] = {}
    for name, member in event_shape.members.items():
        if (found := bounds(member)) is not None:
            strings[name] = found
        elif member.type_name == "list" and (inner := bounds(member.member)) is not None:
            lists[name] = (
                (member.metadata.get("min", 0), member.metadata.get("max", 1 << 62)),
                inner,
            )
    user, session = bounds(user_shape), bounds(session_shape)
    assert user is not None and session is not None
    return strings, lists, user, session


def _within_limits(user_id: str | None, session_id: str, event: dict[str, Any]) -> bool:
    strings, lists, user, session = _length_bounds()
    if user_id is not None and not user[0] <= len(user_id) <= user[1]:
        return False
    if not session[0] <= len(session_id) <= session[1]:
        return False
    for name, value in event.items():
        if (found := strings.get(name)) is not None:
            if not isinstance(value, str) or not found[0] <= len(value) <= found[1]:
                return False
        elif (pair := lists.get(name)) is not None:
            (low, high), (inner_low, inner_high) = pair
            if not isinstance(value, list) or not low <= len(value) <= high:
                return False
            if not all(isinstance(v, str) and inner_low <= len(v) <= inner_high for v in value):
                return False
        elif name not in ("eventValue", "sentAt"):  # typed by to_event; others: full check
            return False
    return "eventType" in event and "sentAt" in event


def event_problems(user_id: str | None, session_id: str, event: dict[str, Any]) -> list[str]:
    """Every PutEvents limit the event breaks (lengths, properties <= 1024, impression <= 25...),
    read from botocore's model: such an event can never be accepted, so it is dead-lettered."""
    if _within_limits(user_id, session_id, event):
        return []
    event_shape, user_shape, session_shape = _shapes()
    problems = validate(event_shape, {**event, "sentAt": 0.0})  # the wire form: epoch seconds
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
