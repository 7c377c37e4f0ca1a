"""The recommendations API: GetRecommendations behind a short-lived, self-invalidating cache.

Its own service rather than a route of ingest: it reads from AWS where ingest writes to Kafka,
so a slow or unreachable Personalize can never hold up the webhook's acknowledgements, and the
two scale with different traffic.
"""

from recommendations.app import create_app, run
from recommendations.settings import RecommendationsSettings

__all__ = ["RecommendationsSettings", "create_app", "run"]
