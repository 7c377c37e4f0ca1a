"""The personalize-events client: refuse to start without a destination, build the sender.

Build the client once and share it: building one takes milliseconds, and botocore clients are
thread-safe. By default its `put_events` goes through the lean sender (put_events_http.py,
botocore's pieces without its per-call machinery); SINK_PUT_EVENTS_CLIENT=boto3 keeps boto3's.
Throttling, 5xx and connection errors are retried inside a call by botocore's 'standard' retry
policy; every retry first takes a token from the shared rate limiter (the dispatcher took the
first attempt's, on the sink's poll thread, before handing the call to the pool: dispatch.py).
"""

from typing import Any

import boto3
import botocore.session
from botocore.config import Config

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
        # Every event was checked against the same model when consumed
        # (events.py, `event_problems`).
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
