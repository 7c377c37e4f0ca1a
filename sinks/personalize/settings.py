"""Settings of the Personalize sink (environment variables are the upper-case field names)."""

import re
from typing import Literal

from pydantic import Field, model_validator

from core.settings import KafkaSettings


class SinkSettings(KafkaSettings):
    sink_group_id: str = Field(default="personalize-sink", description="Consumer group id.")
    aws_personalize_tracking_id: str | None = Field(
        default=None,
        description="The Personalize event tracker's tracking id (required unless SINK_DRY_RUN).",
    )
    personalize_endpoint_url: str | None = Field(
        default=None, description="personalize-events endpoint; unset means AWS's own."
    )
    aws_region: str = Field(default="us-east-1", description="AWS region of the tracker.")
    sink_dry_run: bool = Field(
        default=False,
        description=(
            "Log (counts and event types, never ids) and count (sink_events_total"
            '{outcome="dry_run"}) what would be sent, send nothing, commit. Without it the sink '
            "refuses to start when there is no tracker or no AWS credentials."
        ),
    )
    sink_linger_seconds: float = Field(
        default=1.0,
        ge=0,
        description="Longest a (user, session) group waits for more events before it is sent.",
    )
    sink_batching: Literal["quota", "fixed"] = Field(
        default="quota",
        description=(
            "quota: at the rate limit a lingered group is sent only when a token and an "
            "in-flight slot are free for it, oldest first, and keeps taking its session's "
            "events meanwhile (fuller calls where the quota caps events/s); below the limit it "
            "goes at the linger. fixed: every group goes at the linger and waits for its token "
            "in the send queue."
        ),
    )
    sink_rate_limit_calls_per_second: float = Field(
        default=1000.0,
        gt=0,
        description="PutEvents HTTP attempts per second, at most (stay under the account quota).",
    )
    sink_put_events_client: Literal["lean", "boto3"] = Field(
        default="lean",
        description=(
            "lean: SigV4 as botocore signs it, botocore's parser and retry policy, without "
            "botocore's per-call machinery, "
            "over a keep-alive http.client connection per thread (cheaper: bench/README.md); "
            "boto3: the boto3 client's put_events."
        ),
    )
    sink_max_attempts: int = Field(
        default=3,
        ge=1,
        description="botocore 'standard' attempts inside one call (throttling, 5xx, timeouts).",
    )
    sink_backoff_base_seconds: float = Field(
        default=0.5, gt=0, description="The sink's own backoff after botocore gave up: the base."
    )
    sink_backoff_max_seconds: float = Field(
        default=30.0, gt=0, description="The sink's own backoff: the cap (full jitter below it)."
    )
    sink_fatal_retry_seconds: float = Field(
        default=10.0,
        gt=0,
        description="After a fatal error (unknown tracker, bad credentials), probe this often.",
    )
    sink_threads: int = Field(
        default=48,
        ge=1,
        description=(
            "Concurrent PutEvents calls (one shared client), so at most this many / the call's "
            "time calls/s: the quota's 1,000 calls/s at ~40 ms a call needs 40; 48 leaves "
            "room. At most 2 x this many calls are in the pool and 4 x in flight (a call until "
            "its delivery-log record is stored): what a crash re-sends."
        ),
    )
    sink_max_pending_events: int = Field(
        default=20000,
        ge=10,
        description=(
            "Interactions held in memory before the partitions are paused (resumed below half)."
        ),
    )
    sink_max_uncommitted_events: int = Field(
        default=2000,
        ge=10,
        description=(
            "Records above a partition's committed offset (what a restart re-reads) before the "
            "partition is paused and the group holding the offset is sent early; also how many "
            "delivered records trigger an immediate commit. Bounds what a restart re-reads; "
            "what it re-sends is bounded by the delivery log (the calls in flight)."
        ),
    )
    sink_commit_interval_seconds: float = Field(
        default=0.05,
        ge=0,
        description="Offsets are committed this often (sooner past the uncommitted bound).",
    )
    sink_delivery_log_topic: str | None = Field(
        default=None,
        description=(
            "Topic recording which offsets Personalize accepted, so a restart does not re-send "
            "them; unset: <interactions_topic>.<sink_group_id>.delivered. Created at start-up "
            "with the interactions topic's partition count."
        ),
    )
    sink_delivery_log_read_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Longest an assignment reads the delivery log; past it the rest is re-sent "
            "(safe: giving up only costs duplicates)."
        ),
    )
    sink_revoke_timeout_seconds: float = Field(
        default=15.0, gt=0, description="Longest wait for in-flight calls on revocation/shutdown."
    )
    sink_poll_max_messages: int = Field(
        default=500, ge=1, description="Most records one consume() returns (a consume batch)."
    )
    sink_poll_timeout_seconds: float = Field(
        default=0.02,
        gt=0,
        description=(
            "consume() wait; completions are handled between polls. While calls are in flight "
            "one turn waits 2 x SINK_THREADS / rate / 4 instead, between 1 and 10 ms."
        ),
    )
    sink_status_host: str = Field(default="127.0.0.1", description="/metrics and probes address.")
    sink_status_port: int = Field(
        default=9102,
        description=(
            "/metrics, /healthz, /readyz port (/readyz: 503 before partitions are assigned and "
            "while delivery is stopped)."
        ),
    )
    log_level: str = Field(default="INFO", description="Log level (JSON lines on stderr).")

    @property
    def delivery_log_topic(self) -> str:
        """Per group (a group is one tracker's deliveries): another group must not skip them."""
        return self.sink_delivery_log_topic or (
            f"{self.interactions_topic}.{self.sink_group_id}.delivered"
        )

    @model_validator(mode="after")
    def _delivery_log_topic_is_a_topic_name(self) -> "SinkSettings":
        if not _TOPIC_NAME.fullmatch(self.delivery_log_topic):
            raise ValueError(
                f"delivery log topic {self.delivery_log_topic!r} is not a Kafka topic name "
                "(letters, digits, '.', '_', '-'; at most 249): set SINK_DELIVERY_LOG_TOPIC"
            )
        return self


_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
