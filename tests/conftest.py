"""Root conftest: an environment without the caller's own service settings
(tests/fixtures/environment.py), made before any fixture module imports a service; then the broker,
emulator and S3 fixtures, each in one module, shared by all."""

from collections.abc import Generator

import pytest

from tests.fixtures.environment import strip_caller_settings

_REMOVED = strip_caller_settings()

pytest_plugins = [
    "tests.fixtures.kafka_fixture",
    "tests.fixtures.kafka_cluster",
    "tests.fixtures.personalize_fixture",
    "tests.fixtures.s3_fixture",
]


def pytest_report_header(config: pytest.Config) -> str | None:
    return f"ignoring the caller's settings: {', '.join(_REMOVED)}" if _REMOVED else None


def pytest_runtest_setup(item: pytest.Item) -> None:
    from tests.fixtures.service_process import started_logs

    started_logs.clear()  # a previous test's services


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, None, None]:
    """A failed test's report ends with what the services it started logged."""
    from tests.fixtures.service_process import log_report

    report = (yield).get_result()
    if report.failed and report.when in ("setup", "call"):
        for title, text in log_report():
            report.sections.append((title, text))
