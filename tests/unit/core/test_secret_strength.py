"""Weak secrets: refused outside the local stack with how to make one, accepted inside it."""

import logging

import pytest
from pydantic import SecretStr, ValidationError

from core.secret_strength import HOW_TO_GENERATE, WeakSecretError, refuse_weak_secrets
from devtools.stack import DEV_SECRET
from ingest.app import listener_tls
from ingest.settings import IngestSettings

STRONG = "x" * 32


@pytest.mark.parametrize(
    ("value", "reason"),
    [(DEV_SECRET, "published development secret"), ("y" * 31, "31 characters; at least 32")],
)
def test_refused_outside_the_local_stack(value: str, reason: str) -> None:
    with pytest.raises(WeakSecretError, match=reason) as refused:
        refuse_weak_secrets(False, [("A", SecretStr(STRONG)), ("B_SECRET", SecretStr(value))])
    assert "B_SECRET" in str(refused.value) and HOW_TO_GENERATE in str(refused.value)
    if value != DEV_SECRET:  # the published one may be named; a real secret never is
        assert value not in str(refused.value)


def test_accepted_in_the_local_stack_and_when_strong() -> None:
    refuse_weak_secrets(True, [("A", SecretStr(DEV_SECRET)), ("B", SecretStr("s"))])
    refuse_weak_secrets(False, [("A", SecretStr(STRONG)), ("B", None)])


def test_only_pipeline_dev_marks_the_local_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIPELINE_ENV", raising=False)
    assert not IngestSettings(amplitude_webhook_secret=STRONG).local_stack
    monkeypatch.setenv("PIPELINE_ENV", "local")
    assert IngestSettings(amplitude_webhook_secret=STRONG).local_stack
    monkeypatch.setenv("PIPELINE_ENV", "staging")
    with pytest.raises(ValidationError):
        IngestSettings(amplitude_webhook_secret=STRONG)


def test_tls_needs_both_files_and_the_internal_port_its_own() -> None:
    with pytest.raises(ValidationError, match="INGEST_TLS_KEY_FILE"):
        IngestSettings(amplitude_webhook_secret=STRONG, ingest_tls_cert_file="cert.pem")
    with pytest.raises(ValidationError, match="INGEST_INTERNAL_PORT"):
        IngestSettings(amplitude_webhook_secret=STRONG, ingest_port=9000, ingest_internal_port=9000)


@pytest.mark.parametrize(
    ("host", "warned"),
    [
        ("0.0.0.0", True),
        ("10.1.2.3", True),
        ("", True),
        ("127.0.0.1", False),
        ("::1", False),
        ("localhost", False),
    ],
)
def test_plain_http_off_loopback_warns(
    host: str, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    settings = IngestSettings(amplitude_webhook_secret=STRONG, ingest_host=host)
    with caplog.at_level(logging.WARNING, logger="ingest.app"):
        assert listener_tls(settings) is None
    assert any("plain HTTP" in r.getMessage() for r in caplog.records) is warned
