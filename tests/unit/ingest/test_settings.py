"""Ingest refuses to start unauthenticated unless told to, and describes itself in OpenAPI."""

import pytest
from openapi_spec_validator import validate
from pydantic import ValidationError

from ingest.openapi import openapi_document
from ingest.settings import IngestSettings


def test_no_secret_and_no_opt_in_refuses_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AMPLITUDE_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("INGEST_ALLOW_UNAUTHENTICATED", raising=False)
    with pytest.raises(ValidationError, match="INGEST_ALLOW_UNAUTHENTICATED=true"):
        IngestSettings()


@pytest.mark.parametrize(
    "env",
    [
        {"AMPLITUDE_WEBHOOK_SECRET": "s"},
        {"INGEST_HMAC_SECRET": "k"},
        {"INGEST_ALLOW_UNAUTHENTICATED": "true"},
    ],
)
def test_each_way_to_start(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = IngestSettings()
    assert settings.authenticated == ("INGEST_ALLOW_UNAUTHENTICATED" not in env)


def test_an_empty_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="empty"):
        IngestSettings(amplitude_webhook_secret="")


def test_secret_never_shows_in_the_settings_repr() -> None:
    assert "hunter2" not in repr(IngestSettings(amplitude_webhook_secret="hunter2"))


@pytest.mark.parametrize("header", ["Authorization", "X-Webhook-Secret"])
def test_openapi_document_is_valid_and_states_the_limits(header: str) -> None:
    settings = IngestSettings(
        amplitude_webhook_secret="s", ingest_secret_header=header, ingest_max_events=7
    )
    document = openapi_document(settings)
    validate(document)
    post = document["paths"]["/webhooks/amplitude"]["post"]
    assert set(post["responses"]) == {"200", "400", "401", "413", "415", "503"}
    assert "Retry-After" in post["responses"]["503"]["headers"]
    envelope = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]
    assert envelope["properties"]["events"]["maxItems"] == 7
    scheme = document["components"]["securitySchemes"]["sharedSecret"]
    assert scheme.get("name", "Authorization") == header


def test_cli_refuses_with_the_reason_and_without_echoing_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipeline.cli import main

    monkeypatch.setenv("AMPLITUDE_WEBHOOK_SECRET", "hunter2")
    monkeypatch.setenv("INGEST_HMAC_SECRET", "")
    with pytest.raises(SystemExit) as stopped:
        main(["ingest"])
    assert "INGEST_HMAC_SECRET is set but empty" in str(stopped.value.code)
    assert "hunter2" not in str(stopped.value.code)


def test_api_keys_are_a_credential_and_empty_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AMPLITUDE_WEBHOOK_SECRET", "INGEST_HMAC_SECRET", "INGEST_API_KEYS"):
        monkeypatch.delenv(name, raising=False)
    settings = IngestSettings(ingest_api_keys=" k1, ,k2 ")
    assert settings.authenticated and settings.api_keys == [b"k1", b"k2"]
    with pytest.raises(ValueError, match="AMPLITUDE_WEBHOOK_SECRET is not set"):
        IngestSettings(ingest_api_keys="")  # compose's default: no keys, so no credential
