"""Where finished history files go: an S3 prefix or a local directory.

A file is written whole in one call (S3 PutObject, or write-then-rename locally), so a reader
never sees half a file, and a file named by its first offset is replaced, not duplicated, when
a restarted sink writes it again.
"""

import os
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import boto3

from sinks.history.settings import HistorySettings


class Store(Protocol):
    def put(self, name: str, data: bytes) -> str:
        """Store `data` as `name` under the target; return where it went."""
        ...


class LocalStore:
    def __init__(self, directory: Path) -> None:
        self._directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def put(self, name: str, data: bytes) -> str:
        final = self._directory / name
        partial = final.with_suffix(final.suffix + ".partial")
        partial.write_bytes(data)
        os.replace(partial, final)
        return str(final)


class S3Store:
    def __init__(self, bucket: str, prefix: str, client: object) -> None:
        self._bucket, self._prefix, self._client = bucket, prefix.strip("/"), client

    def put(self, name: str, data: bytes) -> str:
        key = f"{self._prefix}/{name}" if self._prefix else name
        self._client.put_object(  # type: ignore[attr-defined]
            Bucket=self._bucket, Key=key, Body=data, ContentType="text/csv"
        )
        return f"s3://{self._bucket}/{key}"


def open_store(settings: HistorySettings) -> Store:
    target = urlparse(settings.history_target)
    if target.scheme == "s3":
        client = boto3.client(
            "s3", region_name=settings.aws_region, endpoint_url=settings.s3_endpoint_url or None
        )
        return S3Store(target.netloc, target.path, client)
    if target.scheme == "file":
        return LocalStore(Path(target.netloc + target.path))
    if target.scheme == "":
        return LocalStore(Path(settings.history_target))
    raise ValueError(f"HISTORY_TARGET must be s3://bucket/prefix or a directory, not {target!r}")
