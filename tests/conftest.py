"""Root conftest: the broker, emulator and S3 fixtures, each in one module, shared by all;
and an environment without the caller's own service settings (tests/environment.py)."""

import pytest

from tests.environment import strip_caller_settings

pytest_plugins = ["tests.kafka_fixture", "tests.personalize_fixture", "tests.s3_fixture"]


def pytest_configure(config: pytest.Config) -> None:
    removed = strip_caller_settings()
    if removed:
        config.stash[_REMOVED] = removed


def pytest_report_header(config: pytest.Config) -> str | None:
    removed = config.stash.get(_REMOVED, [])
    return f"ignoring the caller's settings: {', '.join(removed)}" if removed else None


_REMOVED = pytest.StashKey[list[str]]()
