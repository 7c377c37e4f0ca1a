"""Settings of `pipeline personalize plan|apply` (environment variables: upper-case names)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PersonalizeSetupSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    personalize_dataset_group_name: str = Field(
        default="amplitude-pipeline",
        min_length=1,
        max_length=36,  # leaves room for the suffixes of the resource names (63 at most)
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9\-_]*$",
        description="Dataset group the plan lives in; its resources are named after it.",
    )
    streams_rules_path: Path | None = Field(
        default=None, description="The rules file the streams stage uses (default: packaged)."
    )
    personalize_api_endpoint_url: str | None = Field(
        default=None, description="personalize control-plane endpoint; unset means AWS's own."
    )
    aws_region: str = Field(default="us-east-1", description="AWS region of the dataset group.")
    personalize_apply_timeout_seconds: float = Field(
        default=900.0,
        gt=0,
        description="How long apply waits for a created resource to become ACTIVE.",
    )
