"""Settings of the stream stage (environment variables are the upper-case field names)."""

from pathlib import Path

from pydantic import Field

from core.settings import KafkaSettings


class StreamsSettings(KafkaSettings):
    streams_app_id: str = Field(
        default="interactions-weigher", description="Faust app id: the consumer group's name."
    )
    streams_rules_path: Path | None = Field(
        default=None,
        description=(
            "Rules file to use instead of the packaged schemas/default_rules.toml (also read by "
            "`pipeline personalize`)."
        ),
    )
    streams_item_id_properties: list[str] = Field(
        default=["item_id", "itemId", "content_id"],
        description="event_properties names holding the item id, tried in order (JSON list).",
    )
    streams_web_host: str = Field(
        default="127.0.0.1",
        description="Faust web address (/metrics, probes: internal only, never published).",
    )
    streams_web_port: int = Field(
        default=6066, description="Faust web port: /metrics, /healthz, /readyz."
    )
    streams_web_table_views: bool = Field(
        default=False,
        description=(
            "Serve Faust's /table views: they read table data (here: insert ids) over HTTP."
        ),
    )
    streams_web_router_views: bool = Field(
        default=False,
        description="Serve Faust's /router views: they list every worker's URL.",
    )
    streams_data_dir: Path = Field(
        default=Path(".faust-data"), description="Faust's local state directory."
    )
    streams_max_future_seconds: float = Field(
        default=86400,
        ge=0,
        le=10 * 365 * 86400,
        description=(
            "How far ahead of the stage's clock an event's own time may be (device clocks run "
            "fast); later events are dead-lettered as future_time rather than sent to "
            "Personalize with a time that has not happened yet."
        ),
    )
    streams_dedup_window_seconds: float = Field(
        default=86400,
        gt=0,
        description=(
            "How long an emitted insert_id is remembered: a re-delivery within it is dropped. "
            "Memory grows with distinct insert ids per window (about 170 bytes each)."
        ),
    )
    streams_batch_size: int = Field(
        default=2000,
        ge=1,
        description=(
            "Most raw events fetched, processed and acknowledged together (Faust's "
            "broker_max_poll_records): bigger batches are cheaper per event but hold the event "
            "loop longer (the cost per event: bench/README.md)."
        ),
    )
    log_level: str = Field(default="INFO", description="Log level (JSON lines on stderr).")
