"""`make run`'s local stack: the only place marked local, and a banner with its credentials."""

import tempfile

import pytest

from devtools.stack import LocalStack, Ports, banner


def test_banner_prints_the_generated_token_beside_the_recommendations_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RECOMMENDATIONS_API_TOKENS", raising=False)
    stack = LocalStack(ports=Ports(), bootstrap="127.0.0.1:1")
    stack._data_dir = tempfile.TemporaryDirectory()
    try:
        env = stack.env()
        lines = banner(stack).splitlines()
    finally:
        stack._data_dir.cleanup()
    assert env["PIPELINE_ENV"] == "local"
    assert len(stack.api_token) >= 32 and env["RECOMMENDATIONS_API_TOKENS"] == stack.api_token
    at = next(i for i, line in enumerate(lines) if "/similar-items/<item_id>" in line)
    assert lines[at - 1].split()[-1] == "http://127.0.0.1:8002/recommendations/<user_id>"
    assert lines[at + 1].strip() == f"Authorization: Bearer {stack.api_token}"
    assert "  ingest metrics     http://127.0.0.1:9100/metrics" in lines  # the internal port
    assert LocalStack().api_token != stack.api_token  # a new one each run


def test_each_service_gets_its_internal_port() -> None:
    ports = Ports.free()
    assert len({*vars(ports).values()}) == len(vars(ports))
