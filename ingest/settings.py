"""Settings of the ingest service (environment variables are the upper-case field names)."""

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator

from core.settings import KafkaSettings


class IngestSettings(KafkaSettings):
    ingest_host: str = Field(default="127.0.0.1", description="Address the webhook binds.")
    ingest_port: int = Field(default=8000, description="Port of the webhook (public).")
    ingest_internal_host: str = Field(
        default="127.0.0.1", description="Address of /metrics, /healthz and /readyz."
    )
    ingest_internal_port: int = Field(
        default=9100, description="Port of /metrics, /healthz and /readyz (never the public one)."
    )
    ingest_tls_cert_file: Path | None = Field(
        default=None,
        description=(
            "PEM certificate chain: with INGEST_TLS_KEY_FILE, the webhook serves HTTPS. Both "
            "are reloaded on SIGHUP or when their files change; open connections stay."
        ),
    )
    ingest_tls_key_file: Path | None = Field(
        default=None, description="PEM private key of INGEST_TLS_CERT_FILE."
    )
    ingest_tls_reload_interval_seconds: float = Field(
        default=10.0, gt=0, description="How often the certificate files are checked for change."
    )
    amplitude_webhook_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Shared secret the sender presents in INGEST_SECRET_HEADER, either bare or as "
            "`Bearer <secret>`. Required unless INGEST_ALLOW_UNAUTHENTICATED is true."
        ),
    )
    ingest_secret_header: str = Field(
        default="Authorization",
        min_length=1,
        description=(
            "Header carrying the shared secret. Amplitude's event-streaming destination can send "
            "custom headers: `Authorization: Bearer <secret>` or e.g. `X-Webhook-Secret: <secret>`."
        ),
    )
    ingest_hmac_secret: SecretStr | None = Field(
        default=None,
        description=(
            "When set, every request must also carry, in INGEST_HMAC_HEADER, the hex "
            "HMAC-SHA256 of `<timestamp>.<raw body>` (the body as sent, before decompression; "
            "`sha256=` prefix optional), the timestamp (Unix seconds) being the value of "
            "INGEST_HMAC_TIMESTAMP_HEADER. For senders that can sign each request: "
            "Amplitude's static custom headers cannot carry a fresh timestamp."
        ),
    )
    ingest_hmac_header: str = Field(
        default="X-Signature-SHA256", min_length=1, description="Header of the HMAC."
    )
    ingest_hmac_timestamp_header: str = Field(
        default="X-Signature-Timestamp",
        min_length=1,
        description="Header of the signed timestamp (Unix seconds).",
    )
    ingest_hmac_tolerance_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A signed timestamp further than this from the clock is refused (401).",
    )
    ingest_hmac_replay_memory: int = Field(
        default=100_000,
        ge=1,
        description=(
            "Accepted signatures remembered (until their timestamp leaves the window) so a "
            "replay is refused (the memory each takes: bench/README.md). Per process: size it "
            "above the signed requests one tolerance window brings."
        ),
    )
    ingest_api_keys: SecretStr | None = Field(
        default=None,
        description=(
            "Comma-separated API keys accepted in an HTTP V2 body's `api_key` as the credential "
            "(Amplitude's SDKs can send no header: point their server_url at the webhook); "
            "empty: none. A request with the shared secret needs no key; the HMAC, when set, is "
            "still required."
        ),
    )
    ingest_allow_unauthenticated: bool = Field(
        default=False,
        description=(
            "Explicit opt-in to run without AMPLITUDE_WEBHOOK_SECRET (and without an HMAC "
            "secret): anyone who reaches the port can write events. Logged as a warning."
        ),
    )
    ingest_ack_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "How long to wait for Kafka's acks before answering 503 + Retry-After. Also the "
            "producer's message.timeout.ms, so nothing stays queued after its request gave up."
        ),
    )
    ingest_linger_ms: float = Field(
        default=0.0,
        ge=0,
        description=(
            "librdkafka linger.ms of the webhook's producer. Every request waits at least this "
            "long for its acks; at 0 librdkafka still batches what queues while a request to "
            "the broker is in flight (bench/README.md measures what 1 ms costs)."
        ),
    )
    ingest_retry_after_seconds: int = Field(
        default=5, ge=1, description="`Retry-After` of a 503 (Kafka did not acknowledge in time)."
    )
    ingest_max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        gt=0,
        description="Largest body, both as sent and after gzip decompression (413 above).",
    )
    ingest_max_events: int = Field(
        default=2000, gt=0, description="Most events in one request (413 above)."
    )
    ingest_max_event_bytes: int = Field(
        default=900_000,
        gt=0,
        le=1_000_000,
        description=(
            "Largest single event. Kafka's default message limit is 1,000,000 bytes including "
            "key and headers; a larger event is rejected and dead-lettered truncated."
        ),
    )
    ingest_shutdown_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="On SIGTERM: how long in-flight requests may take before they are cut off.",
    )
    log_level: str = Field(default="INFO", description="Log level (JSON lines on stderr).")

    @model_validator(mode="after")
    def _authentication_is_configured(self) -> Self:
        if not self.authenticated and not self.ingest_allow_unauthenticated:
            raise ValueError(
                "AMPLITUDE_WEBHOOK_SECRET is not set: set it (and give it to Amplitude as a "
                "header), or set INGEST_ALLOW_UNAUTHENTICATED=true to accept unauthenticated posts"
            )
        for name in ("amplitude_webhook_secret", "ingest_hmac_secret"):
            secret = getattr(self, name)
            if secret is not None and not secret.get_secret_value():
                raise ValueError(f"{name.upper()} is set but empty")
        if (self.ingest_tls_cert_file is None) != (self.ingest_tls_key_file is None):
            raise ValueError("set both INGEST_TLS_CERT_FILE and INGEST_TLS_KEY_FILE, or neither")
        if self.ingest_internal_port == self.ingest_port != 0:
            raise ValueError("INGEST_INTERNAL_PORT must differ from INGEST_PORT")
        return self

    def secrets(self) -> list[tuple[str, SecretStr | None]]:
        """Every secret with its variable's name, for the start-up check."""
        return [
            ("AMPLITUDE_WEBHOOK_SECRET", self.amplitude_webhook_secret),
            ("INGEST_HMAC_SECRET", self.ingest_hmac_secret),
        ]

    @property
    def authenticated(self) -> bool:
        return (
            self.amplitude_webhook_secret is not None
            or self.ingest_hmac_secret is not None
            or bool(self.api_keys)
        )

    @property
    def api_keys(self) -> list[bytes]:
        """INGEST_API_KEYS split on commas, blanks dropped."""
        if self.ingest_api_keys is None:
            return []
        keys = self.ingest_api_keys.get_secret_value().split(",")
        return [key.strip().encode() for key in keys if key.strip()]
