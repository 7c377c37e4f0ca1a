"""The personalize-events client: refuse to start without a dataset, build one boto3 client.

botocore retries nothing here (one attempt a call): the sink retries itself, so that every
attempt passes its call window (call_window.py) and Personalize's 10 calls/s quota holds.
"""

from typing import Any

import boto3
from botocore.config import Config

from sinks.catalog.kinds import Kind
from sinks.catalog.settings import CatalogSinkSettings


def check_configured(settings: CatalogSinkSettings, kind: Kind) -> None:
    """Refuse to start (SystemExit with what to set) when there is nowhere to deliver."""
    if not kind.dataset_arn:
        raise SystemExit(
            f"{kind.name.upper()}_DATASET_ARN is not set: set it to the {kind.name.capitalize()} "
            "dataset's ARN (`pipeline personalize apply` reports it; and PERSONALIZE_ENDPOINT_URL "
            "for the emulator)"
        )
    if boto3.Session().get_credentials() is None:
        where = settings.personalize_endpoint_url or "AWS"
        raise SystemExit(
            f"no AWS credentials found by boto3's chain, so calls to {where} cannot be signed: "
            "configure credentials (the emulator accepts any, e.g. AWS_ACCESS_KEY_ID=test)"
        )


def build_client(settings: CatalogSinkSettings) -> Any:
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=10,
    )
    return boto3.Session().client(
        "personalize-events",
        region_name=settings.aws_region,
        endpoint_url=settings.personalize_endpoint_url or None,  # "" (compose) means AWS
        config=config,
    )
