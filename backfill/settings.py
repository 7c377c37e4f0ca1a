"""Settings of the backfill command (environment variables are the upper-case field names)."""

from pydantic import Field

from core.settings import KafkaSettings


class BackfillSettings(KafkaSettings):
    backfill_rate: float = Field(
        default=5000.0,
        gt=0,
        description="Events per second produced to the raw topic, at most (`--rate` overrides it).",
    )
    log_level: str = Field(default="INFO", description="Log level (JSON lines on stderr).")
