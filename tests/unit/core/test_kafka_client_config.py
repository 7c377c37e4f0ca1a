"""KAFKA_CLIENT_CONFIG: settings that weaken delivery are refused; SASL/TLS reach Faust."""

import ssl
from pathlib import Path

import faust
import orjson
import pytest
from pydantic import ValidationError

from core.settings import KafkaSettings
from streams.credentials import UntranslatableConfig, faust_credentials

SASL = {
    "security.protocol": "SASL_SSL",
    "sasl.mechanism": "SCRAM-SHA-512",
    "sasl.username": "pipeline",
    "sasl.password": "hunter2-hunter2",
}


def settings(config: dict[str, object]) -> KafkaSettings:
    return KafkaSettings(kafka_client_config=orjson.dumps(config).decode())


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"acks": 1}, "acks=1"),
        ({"request.required.acks": "0"}, "request.required.acks=0"),
        ({"enable.idempotence": False}, "enable.idempotence"),
        ({"max.in.flight": 6}, "max.in.flight=6"),
        ({"max.in.flight.requests.per.connection": "1000"}, "max.in.flight.requests"),
        ({"enable.auto.commit": True}, "enable.auto.commit"),
        ({"auto.commit.enable": "true"}, "auto.commit.enable"),
        ({"bootstrap.servers": "elsewhere:9092"}, "KAFKA_BOOTSTRAP_SERVERS"),
        ({"group.id": "someone-elses"}, "group.id"),
    ],
)
def test_settings_that_weaken_delivery_are_refused_by_name(
    config: dict[str, object], named: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        settings({**SASL, **config})
    assert named in str(refused.value)
    assert "hunter2" not in str(refused.value)  # the password is never quoted


def test_what_keeps_the_guarantees_is_accepted() -> None:
    kept = {"acks": "all", "enable.idempotence": True, "max.in.flight": 5, "linger.ms": 20}
    assert settings({**SASL, **kept}).client_overrides()["sasl.username"] == "pipeline"


def test_not_json_is_refused_without_quoting_it() -> None:
    with pytest.raises(ValidationError) as refused:
        KafkaSettings(kafka_client_config='{"sasl.password": "hunter2-hunter2"')
    assert "not valid JSON" in str(refused.value) and "hunter2" not in str(refused.value)


def test_sasl_over_tls_becomes_faust_sasl_credentials_with_a_verifying_context() -> None:
    credentials = faust_credentials(SASL)
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.password) == ("pipeline", "hunter2-hunter2")
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.ssl_context is not None
    assert credentials.ssl_context.check_hostname
    assert credentials.ssl_context.verify_mode == ssl.CERT_REQUIRED


def test_sasl_plaintext_and_plain_tls_and_none() -> None:
    plain = faust_credentials({**SASL, "security.protocol": "sasl_plaintext"})
    assert isinstance(plain, faust.SASLCredentials) and plain.protocol.value == "SASL_PLAINTEXT"
    tls = faust_credentials(
        {"security.protocol": "SSL", "ssl.endpoint.identification.algorithm": "none"}
    )
    assert isinstance(tls, faust.SSLCredentials) and not tls.context.check_hostname
    assert faust_credentials({"linger.ms": 5}) is None


@pytest.mark.parametrize(
    "config",
    [
        {**SASL, "sasl.mechanism": "OAUTHBEARER"},
        {**SASL, "ssl.keystore.location": "/etc/kafka/client.p12"},
        {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN"},  # no credentials
        {"security.protocol": "KERBEROS"},
    ],
)
def test_what_faust_cannot_be_given_refuses_to_start(config: dict[str, object]) -> None:
    with pytest.raises(UntranslatableConfig):
        faust_credentials(config)


def test_the_ca_comes_from_the_file_librdkafka_is_given(tmp_path: Path) -> None:
    """A CA file the context must trust; a missing one refuses to start (no silent fallback)."""
    with pytest.raises(UntranslatableConfig, match="TLS files not usable"):
        faust_credentials({**SASL, "ssl.ca.location": str(tmp_path / "missing.pem")})
    probed = faust_credentials({**SASL, "ssl.ca.location": "probe"})
    assert isinstance(probed, faust.SASLCredentials) and probed.ssl_context is not None
