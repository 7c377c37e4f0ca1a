"""personalize-runtime GetRecommendations, with its failures sorted into what the API answers."""

from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from recommendations.settings import RecommendationsSettings


class RecommendationError(Exception):
    """A failure the API turns into an HTTP status: `status` and a message that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def build_client(settings: RecommendationsSettings) -> Any:
    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=settings.recommendations_threads,
        connect_timeout=2,
        read_timeout=5,
    )
    return boto3.client(
        "personalize-runtime",
        region_name=settings.aws_region,
        endpoint_url=settings.personalize_runtime_endpoint_url or None,
        config=config,
    )


def get_recommendations(client: Any, request: dict[str, Any]) -> dict[str, Any]:
    """Blocking: call from a worker thread. Raises RecommendationError with the HTTP status."""
    try:
        response = client.get_recommendations(**request)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Unknown"), error.get("Message", "")
        if code == "ResourceNotFoundException":
            raise RecommendationError(404, f"unknown campaign or filter: {message}") from exc
        if code == "InvalidInputException":
            raise RecommendationError(400, f"Personalize refused the request: {message}") from exc
        raise RecommendationError(503, f"Personalize unavailable ({code})") from exc
    except BotoCoreError as exc:  # connection refused, timeouts, no credentials
        raise RecommendationError(503, f"Personalize unreachable: {type(exc).__name__}") from exc
    return {
        "items": [
            {"item_id": item["itemId"], "score": item.get("score")}
            for item in response.get("itemList", [])
        ],
        "recommendation_id": response.get("recommendationId"),
    }
