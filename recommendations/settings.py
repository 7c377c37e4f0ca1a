"""Settings of the recommendations service (environment variables: upper-case field names)."""

from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from core.settings import KafkaSettings


def _list(value: Any) -> Any:
    """A JSON list, or comma-separated values (what an operator types for one or two)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import orjson

            return orjson.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class RecommendationsSettings(KafkaSettings):
    recommendations_host: str = Field(default="127.0.0.1", description="Address the API binds.")
    recommendations_port: int = Field(default=8002, description="Port of the API (public).")
    recommendations_internal_host: str = Field(
        default="127.0.0.1", description="Address of /metrics, /healthz and /readyz."
    )
    recommendations_internal_port: int = Field(
        default=9101, description="Port of /metrics, /healthz and /readyz (never the public one)."
    )
    recommendations_api_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default=[],
        description=(
            "Bearer tokens the API accepts (`Authorization: Bearer <token>`), comma-separated "
            "or a JSON list: several at once so a token can be rotated without downtime. "
            "Required unless RECOMMENDATIONS_ALLOW_UNAUTHENTICATED is true."
        ),
    )
    recommendations_allow_unauthenticated: bool = Field(
        default=False,
        description="Explicit opt-in to serve without RECOMMENDATIONS_API_TOKENS (logged).",
    )
    recommendations_filter_arns: Annotated[list[str], NoDecode] = Field(
        default=[],
        description=(
            "Personalize filters a caller may name in `filter_arn` (comma-separated or JSON "
            "list); any other is 400. Empty: no caller-chosen filter."
        ),
    )
    recommendations_context_keys: Annotated[list[str], NoDecode] = Field(
        default=[],
        description=(
            "Keys a caller may send in `context` (comma-separated or JSON list); any other is "
            "400. Empty: no context."
        ),
    )
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
        default=60.0, ge=0, description="How long an answer is served from the cache (0: no cache)."
    )
    recommendations_cache_size: int = Field(
        default=10_000,
        ge=1,
        description="Most answers kept in the cache, all users, items and variants together.",
    )
    recommendations_invalidate_weight: float = Field(
        default=1.5,
        description=(
            "An interaction at least this heavy drops the user's cached answers (so does any "
            "negative one: the filter hides its item at once)."
        ),
    )
    recommendations_default_num_results: int = Field(
        default=25, ge=1, le=500, description="`num_results` when a request gives none."
    )
    recommendations_threads: int = Field(
        default=8, ge=1, description="Concurrent GetRecommendations calls (boto3 blocks)."
    )
    log_level: str = Field(default="INFO", description="Log level (JSON lines on stderr).")

    _lists = field_validator(
        "recommendations_api_tokens",
        "recommendations_filter_arns",
        "recommendations_context_keys",
        mode="before",
    )(_list)

    def secrets(self) -> list[tuple[str, SecretStr | None]]:
        """Every secret with its variable's name, for the start-up check."""
        return [("RECOMMENDATIONS_API_TOKENS", token) for token in self.recommendations_api_tokens]
