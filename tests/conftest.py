"""Root conftest: an environment without the caller's own service settings
(tests/environment.py), made before any fixture module imports a service; then the broker,
emulator and S3 fixtures, each in one module, shared by all."""

import pytest

from tests.environment import strip_caller_settings

_REMOVED = strip_caller_settings()

pytest_plugins = [
    "tests.kafka_fixture",
    "tests.kafka_cluster",
    "tests.personalize_fixture",
    "tests.s3_fixture",
]


def pytest_report_header(config: pytest.Config) -> str | None:
    return f"ignoring the caller's settings: {', '.join(_REMOVED)}" if _REMOVED else None
