"""Settings of the Personalize sink (environment variables are the upper-case field names)."""

from pydantic import Field

from pipeline.settings import KafkaSettings


class SinkSettings(KafkaSettings):
    sink_group_id: str = Field(default="personalize-sink", description="Consumer group id.")
    aws_personalize_tracking_id: str | None = Field(
        default=None, description="The Personalize event tracker's tracking id."
    )
    personalize_endpoint_url: str | None = Field(
        default=None, description="personalize-events endpoint; unset means AWS's own."
    )
    aws_region: str = Field(default="us-east-1", description="AWS region of the tracker.")
    sink_dry_run: bool = Field(
        default=False, description="Log and count what would be sent; send nothing."
    )
    sink_max_attempts: int = Field(
        default=8, ge=1, description="botocore 'standard' retry attempts per PutEvents call."
    )
    sink_threads: int = Field(default=8, ge=1, description="Concurrent PutEvents calls.")
    sink_poll_max_messages: int = Field(default=500, ge=1)
    sink_poll_timeout_seconds: float = Field(default=0.2, gt=0)
    sink_status_host: str = Field(default="127.0.0.1", description="/metrics and probes address.")
    sink_status_port: int = Field(default=9102, description="/metrics, /healthz, /readyz port.")
    log_level: str = "INFO"
