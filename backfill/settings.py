"""Settings of the backfill command (environment variables are the upper-case field names)."""

from pathlib import Path

from pydantic import Field

from core.settings import KafkaSettings


class BackfillSettings(KafkaSettings):
    backfill_rate: float = Field(
        default=5000.0,
        gt=0,
        description="Events per second produced to the raw topic, at most (`--rate` overrides it).",
    )
    streams_rules_path: Path | None = Field(
        default=None,
        description=(
            "The rules file the stream stage uses (default: packaged): `backfill-items` maps a "
            "catalogue's columns by its [items] table."
        ),
    )
    log_level: str = Field(default="INFO", description="Log level (JSON lines on stderr).")
