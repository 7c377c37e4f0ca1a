"""Settings of the recommendations service (environment variables: upper-case field names)."""

from pydantic import Field

from pipeline.settings import KafkaSettings


class RecommendationsSettings(KafkaSettings):
    recommendations_host: str = Field(default="127.0.0.1", description="Address it binds.")
    recommendations_port: int = Field(default=8002, description="Port of the API and /metrics.")
    aws_personalize_campaign_arn: str | None = Field(
        default=None, description="Campaign for GET /recommendations/{user_id}."
    )
    aws_personalize_sims_campaign_arn: str | None = Field(
        default=None, description="SIMS campaign for GET /similar-items/{item_id}."
    )
    aws_personalize_filter_arn: str | None = Field(
        default=None,
        description=(
            "Filter for GET /recommendations/{user_id} unless a request sets filter_arn (an "
            "empty filter_arn: none): the negative-feedback filter `pipeline personalize apply` "
            "prints, so no one is recommended what they flagged or hid."
        ),
    )
    personalize_runtime_endpoint_url: str | None = Field(
        default=None, description="personalize-runtime endpoint; unset means AWS's own."
    )
    aws_region: str = Field(default="us-east-1", description="AWS region of the campaigns.")
    recommendations_cache_ttl_seconds: float = Field(
        default=60.0, ge=0, description="How long an answer is served from the cache."
    )
    recommendations_cache_size: int = Field(
        default=10_000, ge=1, description="Most users (and items) kept in the cache."
    )
    recommendations_invalidate_weight: float = Field(
        default=1.5,
        description=(
            "An interaction at least this heavy drops the user's cached answers (so does any "
            "negative one: the filter hides its item at once)."
        ),
    )
    recommendations_default_num_results: int = Field(default=25, ge=1, le=500)
    recommendations_threads: int = Field(
        default=8, ge=1, description="Concurrent GetRecommendations calls (boto3 blocks)."
    )
    log_level: str = "INFO"
