"""Settings of the ingest service (environment variables are the upper-case field names)."""

from pydantic import Field, SecretStr

from pipeline.settings import KafkaSettings


class IngestSettings(KafkaSettings):
    ingest_host: str = Field(default="127.0.0.1", description="Address the webhook binds.")
    ingest_port: int = Field(default=8000, description="Port of the webhook, /metrics, probes.")
    amplitude_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Shared secret the sender presents as `Authorization: Bearer <secret>`.",
    )
    ingest_ack_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long to wait for Kafka's acks before answering 503."
    )
    ingest_max_body_bytes: int = Field(default=10 * 1024 * 1024, description="Largest body.")
    ingest_max_events: int = Field(default=2000, description="Most events in one request.")
    log_level: str = "INFO"
