"""docker-compose.yml, checked by reading (no Docker engine here): services, health, settings,
the Compose Specification's schema, and Kafka's version, volume and topic settings.
tests/integration/test_compose_kafka.py boots its Kafka configuration."""

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from backfill import BackfillSettings
from emulator import EmulatorSettings
from ingest import IngestSettings
from personalize import PersonalizeSetupSettings
from pipeline.broker import kafka_version
from pipeline.settings import KafkaSettings
from recommendations import RecommendationsSettings
from sinks import SinkSettings
from sinks.history_settings import HistorySettings
from streams import StreamsSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
# The Compose Specification's schema, taken by `make install` from a PyPI package (Makefile).
SCHEMA = ROOT / ".venv" / "compose-spec.json"
SERVICES: dict[str, Any] = COMPOSE["services"]
PIPELINE = ["ingest", "streams", "sink", "recommendations", "history"]
# Variables read by libraries rather than by our settings classes.
LIBRARY_VARIABLES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}


def known_variables() -> set[str]:
    names = {f"EMULATOR_{name}".upper() for name in EmulatorSettings.model_fields}
    for settings in (
        IngestSettings,
        StreamsSettings,
        SinkSettings,
        RecommendationsSettings,
        HistorySettings,
        BackfillSettings,
        PersonalizeSetupSettings,
    ):
        names |= {name.upper() for name in settings.model_fields}
    return names | LIBRARY_VARIABLES


def test_every_service_is_there() -> None:
    expected = {"kafka", "topics", *PIPELINE, "emulator", "prometheus", "grafana"}
    assert expected <= set(SERVICES)


def test_kafka_is_apache_kafka_in_kraft_mode_with_a_healthcheck() -> None:
    kafka = SERVICES["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "healthcheck" in kafka


@pytest.mark.parametrize("name", [*PIPELINE, "emulator", "prometheus", "grafana"])
def test_long_running_services_have_health_and_restart(name: str) -> None:
    service = SERVICES[name]
    assert service["healthcheck"]["test"]
    assert service["restart"] in {"unless-stopped", "always", "on-failure"}


@pytest.mark.parametrize("name", PIPELINE)
def test_pipeline_services_wait_for_topics(name: str) -> None:
    assert SERVICES[name]["depends_on"]["topics"]["condition"] == ("service_completed_successfully")


def test_topics_job_waits_for_a_healthy_kafka() -> None:
    assert SERVICES["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert SERVICES["topics"]["command"] == ["topics"]


@pytest.mark.parametrize("name", [*PIPELINE, "topics", "emulator"])
def test_environment_names_are_settings_the_code_reads(name: str) -> None:
    unknown = set(SERVICES[name].get("environment", {})) - known_variables()
    assert not unknown, f"{name} sets variables no settings class reads: {sorted(unknown)}"


def test_emulator_only_in_the_local_profile() -> None:
    assert SERVICES["emulator"]["profiles"] == ["local"]


def test_prometheus_and_grafana_get_our_configuration() -> None:
    mounts = " ".join(SERVICES["prometheus"]["volumes"] + SERVICES["grafana"]["volumes"])
    assert "./ops/prometheus" in mounts
    assert "./ops/grafana/provisioning" in mounts and "./ops/grafana/dashboards" in mounts


def test_the_file_follows_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    assert "2019-09" in schema["$schema"]
    validator = jsonschema.Draft201909Validator
    validator.check_schema(schema)
    errors = sorted(
        validator(schema).iter_errors(COMPOSE),
        key=lambda error: list(error.absolute_path),
    )
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )


def test_kafka_runs_the_version_the_embedded_broker_pins() -> None:
    """pipeline/broker/pom.xml is the one place the Kafka version is decided."""
    assert SERVICES["kafka"]["image"] == f"apache/kafka:{kafka_version()}"


def test_kafka_keeps_its_data_on_a_named_volume() -> None:
    kafka = SERVICES["kafka"]
    log_dirs = kafka["environment"]["KAFKA_LOG_DIRS"]
    mounts = dict(volume.split(":", 1) for volume in kafka["volumes"])
    named = {target: source for source, target in mounts.items() if source in COMPOSE["volumes"]}
    assert log_dirs in named, f"log.dirs {log_dirs} is not on a named volume: {mounts}"


def _substituted(value: str) -> tuple[str, str]:
    """`${NAME:-default}` -> (NAME, default); anything else fails the test."""
    match = re.fullmatch(r"\$\{([A-Z_]+):-([^}]+)\}", str(value))
    assert match, f"{value!r} is not an env-substituted setting with a default"
    return match[1], match[2]


TOPIC_SETTINGS = {
    "TOPIC_REPLICATION_FACTOR": {"topics", "streams", "sink"},
    "TOPIC_MIN_INSYNC_REPLICAS": {"topics", "streams", "sink"},
    "RAW_TOPIC_RETENTION_HOURS": {"topics"},
    "INTERACTIONS_TOPIC_RETENTION_HOURS": {"topics"},
    "DEAD_LETTER_TOPIC_RETENTION_HOURS": {"topics"},
}


@pytest.mark.parametrize("name", sorted(TOPIC_SETTINGS))
def test_topic_durability_is_a_setting_with_the_services_default(name: str) -> None:
    """The services that create topics get the setting from the user's environment, and the
    compose default is the settings class's own (what README.md documents)."""
    default = KafkaSettings.model_fields[name.lower()].default
    if default is None:  # the cluster's own value; compose's one broker allows only 1
        default = 1
    for service in TOPIC_SETTINGS[name]:
        variable, compose_default = _substituted(SERVICES[service]["environment"][name])
        assert variable == name
        assert float(compose_default) == float(default), f"{service}: {name}"


def test_dead_letters_outlive_the_topics_they_come_from() -> None:
    """A dead letter is replayed after someone fixed its cause: it must be kept longer than the
    events around it (docs/kafka.md)."""
    env = SERVICES["topics"]["environment"]
    dead = float(_substituted(env["DEAD_LETTER_TOPIC_RETENTION_HOURS"])[1])
    assert dead >= 24 * 28
    assert dead > float(_substituted(env["RAW_TOPIC_RETENTION_HOURS"])[1])
    assert dead > float(_substituted(env["INTERACTIONS_TOPIC_RETENTION_HOURS"])[1])
