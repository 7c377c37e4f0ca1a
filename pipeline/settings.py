"""Settings every service shares: where Kafka is and what the topics are called.

Each service's settings class extends `KafkaSettings`, so one environment configures all of them
and each service reads its environment once, at start-up.
"""

from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """Kafka connection and topic names (environment variables are the upper-case field names)."""

    model_config = SettingsConfigDict(extra="ignore", env_file=None)

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092", description="host:port[,host:port] of the Kafka cluster."
    )
    kafka_client_config: SecretStr = Field(
        default=SecretStr("{}"),
        description="Extra librdkafka settings as a JSON object (e.g. SASL); kept secret in logs.",
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
    kafka_message_max_bytes: int = Field(
        default=1_000_000,
        ge=10_000,
        description=(
            "Largest record (key + value + headers) any service writes; also the producers' "
            "message.max.bytes. Set it to at most the broker's (or topic's) message.max.bytes "
            "(Kafka's default 1048588): a record above it is rejected or dead-lettered truncated, "
            "never produced, so one oversized record cannot stop a stage."
        ),
    )
    topic_partitions: int = Field(default=6, ge=1, description="Partitions of created topics.")
    topic_replication_factor: int = Field(default=1, ge=1)

    def client_overrides(self) -> dict[str, Any]:
        import orjson

        extra = orjson.loads(self.kafka_client_config.get_secret_value())
        if not isinstance(extra, dict):
            raise ValueError("KAFKA_CLIENT_CONFIG must be a JSON object")
        return extra

    @property
    def all_topics(self) -> list[str]:
        return [
            self.raw_topic,
            self.interactions_topic,
            self.raw_dead_letter_topic,
            self.interactions_dead_letter_topic,
        ]
