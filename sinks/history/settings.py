"""Settings of the history sink (environment variables are the upper-case field names)."""

from pydantic import Field

from core.settings import KafkaSettings


class HistorySettings(KafkaSettings):
    history_group_id: str = Field(
        default="interactions-history", description="Consumer group of the history sink."
    )
    history_target: str = Field(
        default="file://./history",
        description="Where CSV files go: s3://bucket/prefix or file:///dir (or a plain path).",
    )
    history_roll_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Roll a partition's file at this size."
    )
    history_roll_seconds: float = Field(
        default=300.0, gt=0, description="Roll a partition's file when its first row is this old."
    )
    s3_endpoint_url: str | None = Field(default=None, description="S3 endpoint; unset = AWS.")
    aws_region: str = Field(default="us-east-1", description="AWS region of the bucket.")
    history_status_host: str = Field(default="127.0.0.1", description="/metrics and probes.")
    history_status_port: int = Field(default=9103, description="/metrics, /healthz, /readyz.")
    personalize_api_endpoint_url: str | None = Field(
        default=None, description="personalize (control plane) endpoint; unset = AWS."
    )
    aws_personalize_dataset_arn: str | None = Field(
        default=None, description="Interactions dataset that import jobs load into."
    )
    aws_personalize_import_role_arn: str | None = Field(
        default=None, description="IAM role Personalize assumes to read the S3 prefix."
    )
    log_level: str = Field(default="INFO", description="Log level (JSON lines on stderr).")
