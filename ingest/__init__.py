"""The webhook: authenticate, split a request into events, write each raw event to Kafka."""

from ingest.app import create_app, run
from ingest.settings import IngestSettings

__all__ = ["IngestSettings", "create_app", "run"]
