"""Start a Personalize dataset import job for a prefix of history files.

Refuses to start a job for a prefix that holds no CSV file (an empty import would fail in
AWS minutes later with a less helpful message).
"""

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import boto3

from sinks.history.settings import HistorySettings


class ImportJobError(RuntimeError):
    """The job cannot be started; the message says what to fix."""


def start_import_job(
    settings: HistorySettings, prefix: str, mode: str = "INCREMENTAL", job_name: str | None = None
) -> str:
    """Start the job and return its ARN."""
    if not settings.aws_personalize_dataset_arn or not settings.aws_personalize_import_role_arn:
        raise ImportJobError("set AWS_PERSONALIZE_DATASET_ARN and AWS_PERSONALIZE_IMPORT_ROLE_ARN")
    location = urlparse(prefix)
    if location.scheme != "s3" or not location.netloc:
        raise ImportJobError(f"{prefix!r} is not an s3://bucket/prefix/ location")
    s3 = boto3.client(
        "s3", region_name=settings.aws_region, endpoint_url=settings.s3_endpoint_url or None
    )
    key_prefix = location.path.lstrip("/")
    listing = s3.list_objects_v2(Bucket=location.netloc, Prefix=key_prefix)
    if not any(item["Key"].endswith(".csv") for item in listing.get("Contents", [])):
        raise ImportJobError(f"no .csv file under {prefix}; nothing to import")
    personalize: Any = boto3.client(
        "personalize",
        region_name=settings.aws_region,
        endpoint_url=settings.personalize_api_endpoint_url or None,
    )
    name = job_name or f"history-{datetime.now(tz=UTC):%Y%m%d-%H%M%S}"
    # Personalize imports every file under a folder-like location that ends with "/".
    data_location = prefix if prefix.endswith("/") else prefix + "/"
    response = personalize.create_dataset_import_job(
        jobName=name,
        datasetArn=settings.aws_personalize_dataset_arn,
        dataSource={"dataLocation": data_location},
        roleArn=settings.aws_personalize_import_role_arn,
        importMode=mode,
    )
    return str(response["datasetImportJobArn"])
