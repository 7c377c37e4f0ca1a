"""Settings every service shares: where Kafka is and what the topics are called.

Each service's settings class extends `KafkaSettings`, so one environment configures all of them
and each service reads its environment once, at start-up.
"""

from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """Kafka connection and topic names (environment variables are the upper-case field names)."""

    # Errors name the field, never its value: KAFKA_CLIENT_CONFIG and secrets hold passwords.
    model_config = SettingsConfigDict(extra="ignore", env_file=None, hide_input_in_errors=True)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="host:port[,host:port] of the Kafka cluster."
    )
    kafka_client_config: SecretStr = Field(
        default=SecretStr("{}"),
        description=(
            "Extra librdkafka settings as a JSON object, for every service's Kafka clients: "
            "SASL and TLS (`security.protocol`, `sasl.mechanism`, `sasl.username`, "
            "`sasl.password`, `ssl.ca.location`, ...), translated for the stream stage's Faust "
            "consumer (streams/credentials.py). Kept secret in logs. Settings that would weaken "
            "delivery are refused at start-up (see `weakening_problems`)."
        ),
    )
    kafka_session_timeout_ms: int = Field(
        default=6000,
        ge=1000,
        description=(
            "Consumer-group session timeout. 6 s (Kafka's minimum) keeps group joins short: "
            "Tansu waits half of it before assigning partitions."
        ),
    )
    raw_topic: str = Field(default="amplitude.raw", description="Raw Amplitude events.")
    interactions_topic: str = Field(
        default="interactions.weighted", description="Weighted interactions (the contract)."
    )
    raw_dead_letter_topic: str = Field(
        default="amplitude.raw.dead-letter",
        description="Raw events ingest or streams could not use, with a reason header.",
    )
    interactions_dead_letter_topic: str = Field(
        default="interactions.dead-letter",
        description="Interactions Personalize refused, with the AWS error in a header.",
    )
    topic_partitions: int = Field(default=6, ge=1, description="Partitions of created topics.")
    topic_replication_factor: int = Field(default=1, ge=1)

    @field_validator("kafka_client_config")
    @classmethod
    def _client_config_keeps_delivery_guarantees(cls, value: SecretStr) -> SecretStr:
        problems = weakening_problems(parse_client_config(value.get_secret_value()))
        if problems:
            raise ValueError(f"KAFKA_CLIENT_CONFIG refused: {'; '.join(problems)}")
        return value

    def client_overrides(self) -> dict[str, Any]:
        return parse_client_config(self.kafka_client_config.get_secret_value())

    @property
    def all_topics(self) -> list[str]:
        return [
            self.raw_topic,
            self.interactions_topic,
            self.raw_dead_letter_topic,
            self.interactions_dead_letter_topic,
        ]


# Idempotence keeps order and exactly-once writes with at most this many requests in flight
# (librdkafka refuses more with enable.idempotence; so does the Java client).
MAX_IN_FLIGHT_WITH_IDEMPOTENCE = 5
_ACKS = ("acks", "request.required.acks")
_IN_FLIGHT = ("max.in.flight", "max.in.flight.requests.per.connection")
_AUTO_COMMIT = ("enable.auto.commit", "auto.commit.enable")
_OWNED = ("bootstrap.servers", "metadata.broker.list", "group.id")


def parse_client_config(text: str) -> dict[str, Any]:
    """KAFKA_CLIENT_CONFIG's JSON object (errors never quote it: it holds passwords)."""
    import orjson

    try:
        extra = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ValueError("KAFKA_CLIENT_CONFIG is not valid JSON") from None
    if not isinstance(extra, dict):
        raise ValueError("KAFKA_CLIENT_CONFIG must be a JSON object")
    return extra


def weakening_problems(config: dict[str, Any]) -> list[str]:
    """What in a client config would weaken delivery (a pasted config must not silently turn
    off acks from all in-sync replicas, idempotence, or manual commits after delivery)."""
    problems = []
    for key in _ACKS:
        if key in config and str(config[key]).strip().lower() not in ("all", "-1"):
            problems.append(f"{key}={config[key]}: every producer needs acks=all")
    if "enable.idempotence" in config and str(config["enable.idempotence"]).lower() != "true":
        problems.append("enable.idempotence must stay true (no duplicates or reordering)")
    for key in _IN_FLIGHT:
        if key in config:
            try:
                too_many = int(config[key]) > MAX_IN_FLIGHT_WITH_IDEMPOTENCE
            except (TypeError, ValueError):
                too_many = True
            if too_many:
                problems.append(
                    f"{key}={config[key]}: at most {MAX_IN_FLIGHT_WITH_IDEMPOTENCE} "
                    "with idempotence"
                )
    for key in _AUTO_COMMIT:
        if key in config and str(config[key]).lower() != "false":
            problems.append(f"{key}: offsets are committed only after delivery, never by a timer")
    for key in _OWNED:
        if key in config:
            problems.append(f"{key} is set by the service (KAFKA_BOOTSTRAP_SERVERS, group ids)")
    return problems
