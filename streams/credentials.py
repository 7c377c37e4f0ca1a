"""KAFKA_CLIENT_CONFIG (librdkafka's names) as Faust's broker credentials (aiokafka's).

The stage's own producers are librdkafka and take the config as it is; Faust's consumer, its
producer and its admin client are aiokafka, configured through `broker_credentials`. This
translates the security settings, so one KAFKA_CLIENT_CONFIG joins every service to a SASL or
TLS cluster, and refuses at start-up what it cannot translate (rather than a worker that
connects in plain text, or not at all, while the rest of the pipeline works).
"""

import logging
import ssl
from pathlib import Path
from typing import Any

import faust
from faust.types.auth import CredentialsT

log = logging.getLogger(__name__)

_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI")
# Security settings Faust's clients cannot be given (librdkafka-only key stores, inline keys,
# OAUTHBEARER token sources): refused rather than ignored.
_UNTRANSLATED = (
    "ssl.keystore.",
    "ssl.certificate.pem",
    "ssl.key.pem",
    "ssl.engine.",
    "ssl.providers",
    "ssl_engine_callback",
    "sasl.oauthbearer.",
    "sasl.kerberos.keytab",
    "sasl.kerberos.principal",
    "sasl.kerberos.kinit.cmd",
)
_TRANSLATED = frozenset(
    {
        "security.protocol",
        "sasl.mechanism",
        "sasl.mechanisms",
        "sasl.username",
        "sasl.password",
        "sasl.kerberos.service.name",
        "ssl.ca.location",
        "ssl.ca.pem",
        "ssl.certificate.location",
        "ssl.key.location",
        "ssl.key.password",
        "ssl.endpoint.identification.algorithm",
        "enable.ssl.certificate.verification",
    }
)


class UntranslatableConfig(ValueError):
    """KAFKA_CLIENT_CONFIG asks for security the stage's Faust clients cannot be given."""


def faust_credentials(config: dict[str, Any]) -> CredentialsT | None:
    """Faust's `broker_credentials` for a librdkafka config (None: plaintext)."""
    refused = sorted(k for k in config if k.startswith(_UNTRANSLATED))
    if refused:
        raise UntranslatableConfig(
            f"KAFKA_CLIENT_CONFIG: {', '.join(refused)} cannot be given to the stream stage's "
            "Faust clients (aiokafka): use ssl.ca.location, ssl.certificate.location and "
            "ssl.key.location files, and SASL PLAIN, SCRAM or GSSAPI"
        )
    ignored = sorted(k for k in config if k not in _TRANSLATED)
    if ignored:
        log.info(
            "KAFKA_CLIENT_CONFIG settings applied to the stage's librdkafka producers only, "
            "not to Faust's consumer: %s",
            ", ".join(ignored),
        )
    protocol = str(config.get("security.protocol", "plaintext")).upper()
    if protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
        raise UntranslatableConfig(f"KAFKA_CLIENT_CONFIG: unknown security.protocol {protocol!r}")
    try:
        context = _ssl_context(config) if protocol in ("SSL", "SASL_SSL") else None
    except (OSError, ssl.SSLError) as exc:  # names the file, never a key's password
        raise UntranslatableConfig(f"KAFKA_CLIENT_CONFIG: TLS files not usable: {exc}") from None
    if protocol == "PLAINTEXT":
        return None
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    mechanism = str(config.get("sasl.mechanism", config.get("sasl.mechanisms", "GSSAPI")))
    mechanism = mechanism.upper()  # librdkafka's default mechanism is GSSAPI, as Kafka's
    if mechanism not in _SASL_MECHANISMS:
        raise UntranslatableConfig(
            f"KAFKA_CLIENT_CONFIG: sasl.mechanism {mechanism!r} is not translated for the stream "
            f"stage (one of {', '.join(_SASL_MECHANISMS)})"
        )
    if mechanism == "GSSAPI":
        return faust.GSSAPICredentials(
            kerberos_service_name=str(config.get("sasl.kerberos.service.name", "kafka")),
            ssl_context=context,
        )
    username, password = config.get("sasl.username"), config.get("sasl.password")
    if not username or not password:
        raise UntranslatableConfig(
            f"KAFKA_CLIENT_CONFIG: SASL {mechanism} needs sasl.username and sasl.password"
        )
    return faust.SASLCredentials(
        username=str(username), password=str(password), mechanism=mechanism, ssl_context=context
    )


def _ssl_context(config: dict[str, Any]) -> ssl.SSLContext:
    """librdkafka's TLS settings as an SSLContext: the CA (else the system's), an optional
    client certificate, and hostname verification unless turned off as librdkafka's is."""
    location = str(config.get("ssl.ca.location") or "")
    cafile = capath = None  # unset or librdkafka's "probe": the system's CAs
    if location and location != "probe":
        cafile, capath = (None, location) if Path(location).is_dir() else (location, None)
    context = ssl.create_default_context(
        cafile=cafile, capath=capath, cadata=config.get("ssl.ca.pem")
    )
    certificate = config.get("ssl.certificate.location")
    if certificate:
        context.load_cert_chain(
            str(certificate),
            config.get("ssl.key.location"),
            config.get("ssl.key.password"),
        )
    algorithm = str(config.get("ssl.endpoint.identification.algorithm", "https")).lower()
    if algorithm == "none":
        context.check_hostname = False
    if str(config.get("enable.ssl.certificate.verification", "true")).lower() == "false":
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
