"""docker-compose.yml's Kafka, booted: its KAFKA_* variables become server.properties the way
the apache/kafka image makes them, and run on the embedded Apache Kafka of the same version.

Only the container's names are mapped: the hostname `kafka` and the listeners' ports become
loopback and free ports, and each named volume a temporary directory. Everything else is the
compose file's own, so a setting it lacks (log.dirs on the volume, say) is missing here too.
"""

import re
import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource

from core.kafka import admin_client, ensure_topics, producer_config
from core.settings import KafkaSettings
from devtools.kafka_broker import EmbeddedKafka, free_port
from devtools.kafka_broker import _Node as Node
from tests.fixtures.kafka_fixture import wait_for

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
KAFKA = COMPOSE["services"]["kafka"]

# KAFKA_* variables the image (its Docker wrapper, kafka.docker.KafkaDockerWrapper) leaves out
# of server.properties: they go to the JVM or to log4j. Its own list, spelling included.
_NOT_PROPERTIES = {
    "KAFKA_VERSION", "KAFKA_HEAP_OPT", "KAFKA_LOG4J_OPTS", "KAFKA_OPTS", "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_GC_LOG_OPTS", "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS", "KAFKA_TOOLS_LOG4J_LOGLEVEL", "KAFKA_JMX_HOSTNAME",
}  # fmt: skip
_CONTAINER_HOSTS = {"", "kafka", "localhost", "0.0.0.0"}
_ADDRESS = re.compile(r"(?P<lead>//|@)(?P<host>[A-Za-z0-9.-]*):(?P<port>\d+)")


def interpolated(value: object) -> str:
    """A compose value as Compose gives it to the container, `${NAME:-default}` as its
    default (the user's own environment is not this test's business)."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return re.sub(r"\$\{[A-Z0-9_]+:?-([^}]*)\}", r"\1", text)


def image_properties(environment: Mapping[str, object]) -> dict[str, str]:
    """server.properties as the apache/kafka image writes it from its environment: each
    KAFKA_<NAME> becomes <name> lower-cased with `_` -> `.`, `__` -> `_` and `___` -> `-`."""
    properties = {}
    for key, value in environment.items():
        if key.startswith("KAFKA_") and key not in _NOT_PROPERTIES:
            name = key.removeprefix("KAFKA_").lower().replace("_", ".")
            properties[name.replace("...", "-").replace("..", "_")] = interpolated(value)
    return properties


def test_the_translation_is_the_images() -> None:
    assert image_properties(
        {"KAFKA_LOG_DIRS": "/d", "KAFKA_SOME__NAME": "x", "KAFKA_A___B": 1, "KAFKA_OPTS": "-X"}
    ) == {"log.dirs": "/d", "some_name": "x", "a-b": "1"}


def volume_paths(service: Mapping[str, Any], root: Path) -> dict[str, Path]:
    """Each named volume's mount point in the container -> a directory of its own under root."""
    paths = {}
    for mount in service.get("volumes", []):
        source, target = mount.split(":")[:2]
        assert source in COMPOSE["volumes"], f"{mount} is not a named volume"
        paths[target] = root / source
    return paths


class ComposeKafka(EmbeddedKafka):
    """One embedded node whose server.properties is the compose service's, mapped to this
    machine: container host names and ports to loopback ports, volume paths to directories."""

    def __init__(
        self, properties: Mapping[str, str], volumes: Mapping[str, Path], container: Path
    ) -> None:
        super().__init__(brokers=1)
        self.compose_properties = dict(properties)
        self.volumes = dict(volumes)
        self.container = container  # the container's own filesystem: gone with the container
        self.node_directory: Path | None = None
        self.mapped: dict[str, str] = {}

    def _properties(self, node: Node) -> dict[str, str]:
        self.node_directory = node.directory
        client = _ADDRESS.search(self.compose_properties["advertised.listeners"])
        controller = _ADDRESS.search(self.compose_properties["controller.quorum.voters"])
        assert client and controller
        ports = {client["port"]: node.port, controller["port"]: node.controller_port}

        def loopback(match: re.Match[str]) -> str:
            assert match["host"] in _CONTAINER_HOSTS, f"unexpected host {match['host']!r}"
            port = ports.setdefault(match["port"], free_port())
            return f"{match['lead']}{self.host}:{port}"

        def on_this_machine(item: str) -> str:
            """A path in the container: on its volume's directory, else in the container's."""
            for inside, outside in self.volumes.items():
                if item == inside or item.startswith(f"{inside}/"):
                    return f"{outside}{item.removeprefix(inside)}"
            return str(self.container / item.lstrip("/")) if item.startswith("/") else item

        self.mapped = {
            key: ",".join(
                on_this_machine(item) for item in _ADDRESS.sub(loopback, value).split(",")
            )
            for key, value in self.compose_properties.items()
        }
        if "log.dirs" not in self.mapped and "log.dir" not in self.mapped:
            # Kafka's own default, /tmp/kafka-logs: in the container, on no volume.
            return {**self.mapped, "log.dirs": str(self.container / "tmp" / "kafka-logs")}
        return self.mapped

    @property
    def data_volume(self) -> Path:
        """The directory of the service's one named volume."""
        (directory,) = self.volumes.values()
        return directory


@pytest.fixture(scope="module")
def compose_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeKafka]:
    volumes = volume_paths(KAFKA, tmp_path_factory.mktemp("volumes"))
    container = tmp_path_factory.mktemp("container")
    broker = ComposeKafka(image_properties(KAFKA["environment"]), volumes, container)
    with broker:
        yield broker


def topics_job_settings(bootstrap: str) -> KafkaSettings:
    """The `topics` job's settings: its compose environment with the defaults it documents."""
    environment = {
        key.lower(): interpolated(value)
        for key, value in COMPOSE["services"]["topics"]["environment"].items()
        if key != "KAFKA_BOOTSTRAP_SERVERS"
    }
    suffix = uuid.uuid4().hex[:6]
    names = {f: f"{KafkaSettings.model_fields[f].default}.{suffix}" for f in _TOPIC_FIELDS}
    return KafkaSettings.model_validate(
        {**environment, **names, "kafka_bootstrap_servers": bootstrap}
    )


_TOPIC_FIELDS = [
    "raw_topic",
    "interactions_topic",
    "raw_dead_letter_topic",
    "interactions_dead_letter_topic",
]


def broker_configs(admin: AdminClient) -> dict[str, Any]:
    resource = ConfigResource(ConfigResource.Type.BROKER, "1")
    return dict(admin.describe_configs([resource])[resource].result(30))


def topic_configs(admin: AdminClient, topic: str) -> dict[str, Any]:
    """The topic's configuration, once the broker's metadata has the new topic."""
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)

    def described() -> dict[str, Any] | None:
        try:
            return dict(admin.describe_configs([resource])[resource].result(30))
        except KafkaException:  # UNKNOWN_TOPIC_OR_PART just after CreateTopics answered
            return None

    return wait_for(described, 30, f"{topic}'s configuration")


def test_the_broker_runs_the_compose_files_configuration(compose_kafka: ComposeKafka) -> None:
    admin = AdminClient({"bootstrap.servers": compose_kafka.bootstrap_servers})
    running = broker_configs(admin)
    for name, value in compose_kafka.mapped.items():
        assert name in running, f"{name} is not a broker setting Kafka knows"
        assert running[name].value == value, name
        assert running[name].source == ConfigSource.STATIC_BROKER_CONFIG.value, name
    # The settings a deployment relies on, by name, as Kafka reports them.
    assert running["log.dirs"].value == str(compose_kafka.data_volume)
    assert running["auto.create.topics.enable"].value == "false"
    assert running["process.roles"].value == "broker,controller"


def test_data_and_metadata_live_on_the_volume_and_survive_a_new_container(
    compose_kafka: ComposeKafka,
) -> None:
    settings = topics_job_settings(compose_kafka.bootstrap_servers)
    ensure_topics(settings)  # what the topics job does, with its compose settings
    producer = Producer(producer_config(settings))
    producer.produce(settings.raw_topic, key=b"k", value=b"kept")
    assert producer.flush(30) == 0
    del producer  # not left reconnecting while the broker restarts

    volume = compose_kafka.data_volume
    assert (volume / "meta.properties").exists()  # formatted once; the image keeps it
    assert (volume / "__cluster_metadata-0").is_dir()
    assert any(volume.glob(f"{settings.raw_topic}-*"))

    # A new container: nothing is kept but the volume (and the configuration it is given).
    assert compose_kafka.node_directory is not None
    compose_kafka.stop_node(1)
    for path in compose_kafka.node_directory.iterdir():
        if path.is_file() and path.name != "server.properties":
            path.unlink()
    shutil.rmtree(compose_kafka.container)
    compose_kafka.container.mkdir()
    compose_kafka.start_node(1)

    consumer = Consumer(
        {
            "bootstrap.servers": compose_kafka.bootstrap_servers,
            "group.id": f"compose-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    try:
        partitions = [TopicPartition(settings.raw_topic, p, 0) for p in range(6)]
        consumer.assign(partitions)
        read: list[bytes] = []

        def got_it() -> bool:
            read.extend(m.value() for m in consumer.consume(100, 0.2) if m.error() is None)
            return b"kept" in read

        wait_for(got_it, 60, "the record produced before the restart")
    finally:
        consumer.close()


def test_the_topics_job_applies_durability_and_retention(compose_kafka: ComposeKafka) -> None:
    settings = topics_job_settings(compose_kafka.bootstrap_servers)
    ensure_topics(settings)
    admin = admin_client(settings)
    hour_ms = 3600 * 1000
    expected_hours = {
        settings.raw_topic: settings.raw_topic_retention_hours,
        settings.interactions_topic: settings.interactions_topic_retention_hours,
        settings.raw_dead_letter_topic: settings.dead_letter_topic_retention_hours,
        settings.interactions_dead_letter_topic: settings.dead_letter_topic_retention_hours,
    }
    assert settings.dead_letter_topic_retention_hours == 720  # the compose default
    for topic, hours in expected_hours.items():
        configs = topic_configs(admin, topic)
        assert configs["retention.ms"].value == str(int(hours * hour_ms)), topic
        assert configs["min.insync.replicas"].value == str(settings.topic_min_insync_replicas)
        assert configs["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    metadata = admin.list_topics(settings.raw_topic, timeout=10).topics[settings.raw_topic]
    assert len(metadata.partitions) == settings.topic_partitions == 6
    assert {len(p.replicas) for p in metadata.partitions.values()} == {
        settings.topic_replication_factor
    }
