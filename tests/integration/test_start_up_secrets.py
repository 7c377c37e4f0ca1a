"""Outside the local stack the services refuse to start with a secret anyone could guess, and
say how to make a good one (each run as `pipeline <service>`, the way it is deployed)."""

import os
import subprocess
import sys

import pytest

from core.secret_strength import HOW_TO_GENERATE
from devtools.stack import DEV_SECRET

GOOD = "Vx3w2hHq8bM2c1yQ0rR8Z9t6pLsK4nDe-1"


def start(service: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the service with only `env` set of its own variables, in production (the default)."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AMPLITUDE_", "INGEST_", "RECOMMENDATIONS_", "PIPELINE_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", service],
        env={**inherited, "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("service", "env", "reason"),
    [
        ("ingest", {"AMPLITUDE_WEBHOOK_SECRET": DEV_SECRET}, "published development secret"),
        ("ingest", {"AMPLITUDE_WEBHOOK_SECRET": "s3cret"}, "6 characters; at least 32"),
        (
            "ingest",
            {"AMPLITUDE_WEBHOOK_SECRET": GOOD, "INGEST_HMAC_SECRET": "short-key"},
            "INGEST_HMAC_SECRET is 9 characters",
        ),
        ("recommendations", {"RECOMMENDATIONS_API_TOKENS": DEV_SECRET}, "published development"),
        (
            "recommendations",
            {"RECOMMENDATIONS_API_TOKENS": f"{GOOD},tiny", "PIPELINE_ENV": "production"},
            "RECOMMENDATIONS_API_TOKENS is 4 characters",
        ),
    ],
)
def test_a_weak_secret_refuses_start_up_with_how_to_make_one(
    service: str, env: dict[str, str], reason: str
) -> None:
    result = start(service, env)
    assert result.returncode != 0
    assert f"{service}: refusing to start" in result.stderr
    assert reason in result.stderr
    assert HOW_TO_GENERATE in result.stderr
    for value in env.values():
        if value not in (DEV_SECRET, "production"):
            assert value not in result.stderr  # never echoed


def test_recommendations_without_a_token_refuses_unless_told_to() -> None:
    result = start("recommendations", {})
    assert result.returncode != 0
    assert "RECOMMENDATIONS_API_TOKENS is not set" in result.stderr
    assert "RECOMMENDATIONS_ALLOW_UNAUTHENTICATED" in result.stderr
