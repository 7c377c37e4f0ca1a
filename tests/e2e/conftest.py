"""The running stack for end-to-end tests: started once, shared by every e2e module."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.stack import LocalStack, Ports


@pytest.fixture(scope="session")
def stack(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    logs: Path = tmp_path_factory.mktemp("stack-logs")
    local = LocalStack(
        ports=Ports.free(),
        bootstrap=kafka_bootstrap,
        log_dir=logs,
        history_dir=tmp_path_factory.mktemp("history"),
    )
    # The token the tests send, whatever RECOMMENDATIONS_API_TOKENS the caller exported.
    local.extra_env = {"RECOMMENDATIONS_API_TOKENS": local.api_token}
    local.start(timeout=90)
    yield local
    local.stop()
