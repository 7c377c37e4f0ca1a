"""The recommendations API: GetRecommendations behind a short-lived, self-invalidating cache.

Its own service rather than a route of ingest: it reads from AWS where ingest writes to Kafka,
so a slow or unreachable Personalize can never hold up the webhook's acknowledgements, and the
two scale with different traffic.
"""

import argparse

from core.logs import configure_logging
from core.startup import Command, load_settings, refusing_weak_secrets
from recommendations.app import create_app, run
from recommendations.settings import RecommendationsSettings


def _main(_: argparse.Namespace) -> None:
    settings = load_settings(RecommendationsSettings, "recommendations")
    configure_logging("recommendations", settings.log_level)
    refusing_weak_secrets("recommendations", lambda: run(settings))


commands = (Command("recommendations", "the recommendations API (GetRecommendations)", _main),)

__all__ = ["RecommendationsSettings", "commands", "create_app", "run"]
