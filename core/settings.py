"""Settings every service shares: where Kafka is and what the topics are called.

Each service's settings class extends `KafkaSettings`, so one environment configures all of them
and each service reads its environment once, at start-up.
"""

from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    """Kafka connection and topic names (environment variables are the upper-case field names)."""

    # Errors name the field, never its value: KAFKA_CLIENT_CONFIG and secrets hold passwords.
    model_config = SettingsConfigDict(extra="ignore", env_file=None, hide_input_in_errors=True)

    pipeline_env: Literal["production", "local"] = Field(
        default="production",
        description=(
            "`local` only in the local stack (`pipeline dev` sets it): there the published "
            "development secret and short secrets are accepted. Anywhere else they are refused."
        ),
    )
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
        default=45000,
        ge=1000,
        description=(
            "Consumer-group session timeout: how long a crashed member's partitions wait before "
            "the group moves them (a stopped one leaves at once). Kafka's own default; shorter "
            "fails over faster but makes a stalled event loop or network blip a rebalance, "
            "which costs the stream stage a dedup-table recovery. The broker allows 6000 and up."
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
    users_topic: str = Field(
        default="users.metadata",
        description="Latest Users-dataset fields per user (compacted, keyed by user id).",
    )
    items_topic: str = Field(
        default="items.metadata",
        description="Latest Items-dataset fields per item (compacted, keyed by item id).",
    )
    users_dead_letter_topic: str = Field(
        default="users.metadata.dead-letter",
        description="User records Personalize refused (PutUsers), with the AWS error in a header.",
    )
    items_dead_letter_topic: str = Field(
        default="items.metadata.dead-letter",
        description="Item records Personalize refused (PutItems), with the AWS error in a header.",
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
    topic_replication_factor: int = Field(
        default=1,
        ge=1,
        description=(
            "Replicas of every topic the pipeline creates. 1 suits one broker (make run, the "
            "compose file); on a production cluster use 3, so a broker can fail."
        ),
    )
    topic_min_insync_replicas: int | None = Field(
        default=None,
        ge=1,
        description=(
            "min.insync.replicas of the created topics: with acks=all a write succeeds only "
            "once this many replicas hold it (ingest answers 503 below it). At most the "
            "replication factor; 2 with a replication factor of 3. Unset: the cluster's own "
            "min.insync.replicas, so a cluster set to 2 is never weakened by a default here."
        ),
    )
    raw_topic_retention_hours: float = Field(
        default=168,
        gt=0,
        description=(
            "How long the raw topic keeps events: how long the stream stage may be down or "
            "broken before unread events are lost (a week)."
        ),
    )
    interactions_topic_retention_hours: float = Field(
        default=168,
        gt=0,
        description=(
            "How long the interactions topic keeps interactions: how long the sinks may be "
            "down (a Personalize outage, bad credentials) before undelivered ones are lost."
        ),
    )
    dead_letter_topic_retention_hours: float = Field(
        default=720,
        gt=0,
        description=(
            "How long both dead-letter topics keep records: long enough for a person to find "
            "the cause, ship a fix and replay them (30 days; see docs/kafka.md)."
        ),
    )

    @model_validator(mode="after")
    def _min_insync_replicas_within_replication(self) -> "KafkaSettings":
        minimum = self.topic_min_insync_replicas
        if minimum is not None and minimum > self.topic_replication_factor:
            raise ValueError(
                f"TOPIC_MIN_INSYNC_REPLICAS ({self.topic_min_insync_replicas}) is above "
                f"TOPIC_REPLICATION_FACTOR ({self.topic_replication_factor}): every acks=all "
                "write would fail"
            )
        return self

    @field_validator("kafka_client_config")
    @classmethod
    def _client_config_keeps_delivery_guarantees(cls, value: SecretStr) -> SecretStr:
        problems = weakening_problems(parse_client_config(value.get_secret_value()))
        if problems:
            raise ValueError(f"KAFKA_CLIENT_CONFIG refused: {'; '.join(problems)}")
        return value

    @property
    def local_stack(self) -> bool:
        return self.pipeline_env == "local"

    def client_overrides(self) -> dict[str, Any]:
        return parse_client_config(self.kafka_client_config.get_secret_value())

    def topic_configs(self) -> dict[str, dict[str, str]]:
        """Each pipeline topic's configuration, applied when it is created."""
        hour_ms = 3600 * 1000
        retention = {
            self.raw_topic: self.raw_topic_retention_hours,
            self.interactions_topic: self.interactions_topic_retention_hours,
            self.raw_dead_letter_topic: self.dead_letter_topic_retention_hours,
            self.interactions_dead_letter_topic: self.dead_letter_topic_retention_hours,
            self.users_dead_letter_topic: self.dead_letter_topic_retention_hours,
            self.items_dead_letter_topic: self.dead_letter_topic_retention_hours,
        }
        configs = {
            topic: {
                "cleanup.policy": "delete",
                "retention.ms": str(int(hours * hour_ms)),
                **self.min_insync_replicas_config(),
            }
            for topic, hours in retention.items()
        }
        # Latest state per key: compaction keeps each user's (item's) newest record for ever.
        for topic in (self.users_topic, self.items_topic):
            configs[topic] = {"cleanup.policy": "compact", **self.min_insync_replicas_config()}
        return configs

    def min_insync_replicas_config(self) -> dict[str, str]:
        """The topic config for TOPIC_MIN_INSYNC_REPLICAS; empty (the cluster's) when unset."""
        minimum = self.topic_min_insync_replicas
        return {} if minimum is None else {"min.insync.replicas": str(minimum)}

    @property
    def all_topics(self) -> list[str]:
        return [
            self.raw_topic,
            self.interactions_topic,
            self.raw_dead_letter_topic,
            self.interactions_dead_letter_topic,
            self.users_topic,
            self.items_topic,
            self.users_dead_letter_topic,
            self.items_dead_letter_topic,
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
