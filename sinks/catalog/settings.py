"""Settings of the users and items sinks (environment variables are the upper-case field names)."""

from pydantic import Field

from core.settings import KafkaSettings


class CatalogSinkSettings(KafkaSettings):
    """One class for both sinks: they differ by dataset, group, topic and status port only."""

    users_dataset_arn: str | None = Field(
        default=None,
        description="The Users dataset ARN PutUsers writes to (`pipeline users-sink` needs it).",
    )
    items_dataset_arn: str | None = Field(
        default=None,
        description="The Items dataset ARN PutItems writes to (`pipeline items-sink` needs it).",
    )
    users_sink_group_id: str = Field(default="users-sink", description="Users sink's group id.")
    items_sink_group_id: str = Field(default="items-sink", description="Items sink's group id.")
    personalize_endpoint_url: str | None = Field(
        default=None, description="personalize-events endpoint; unset means AWS's own."
    )
    aws_region: str = Field(default="us-east-1", description="AWS region of the datasets.")
    catalog_sink_window_seconds: float = Field(
        default=2.0,
        ge=0,
        description=(
            "Updates of one user (item) within this long of its first unsent one are coalesced: "
            "only the newest is sent (each PutUsers/PutItems record is the whole state)."
        ),
    )
    catalog_sink_rate_limit_calls_per_second: int = Field(
        default=10,
        ge=1,
        description=(
            "PutUsers (PutItems) HTTP attempts in any one second, at most, per sink process "
            "(Personalize's quota: 10 a second per dataset group; run one process per sink)."
        ),
    )
    catalog_sink_backoff_base_seconds: float = Field(
        default=0.5, gt=0, description="Backoff after a retryable failure: the base."
    )
    catalog_sink_backoff_max_seconds: float = Field(
        default=30.0, gt=0, description="Backoff after a retryable failure: the cap (full jitter)."
    )
    catalog_sink_fatal_retry_seconds: float = Field(
        default=10.0,
        gt=0,
        description="After a fatal error (unknown dataset, bad credentials), probe this often.",
    )
    catalog_sink_max_pending_records: int = Field(
        default=20000,
        ge=10,
        description="Records consumed and not done before the partitions are paused (resumed "
        "below half).",
    )
    catalog_sink_commit_interval_seconds: float = Field(
        default=0.5, ge=0, description="Offsets are committed this often (and on shutdown)."
    )
    catalog_sink_poll_timeout_seconds: float = Field(
        default=0.05, gt=0, description="Longest consume() wait; due records go out between polls."
    )
    users_sink_status_port: int = Field(
        default=9104, description="Users sink's /metrics, /healthz, /readyz port."
    )
    items_sink_status_port: int = Field(
        default=9105, description="Items sink's /metrics, /healthz, /readyz port."
    )
    catalog_sink_status_host: str = Field(
        default="127.0.0.1", description="/metrics and probes address of both sinks."
    )
    log_level: str = Field(default="INFO", description="Log level (JSON lines on stderr).")
