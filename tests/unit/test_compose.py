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

from core.settings import KafkaSettings
from devtools.kafka_broker import kafka_version
from tests.fixtures.environment import service_variables

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
# The Compose Specification's schema, taken by `make install` from a PyPI package (Makefile).
SCHEMA = ROOT / ".venv" / "compose-spec.json"
SERVICES: dict[str, Any] = COMPOSE["services"]
PIPELINE = ["ingest", "streams", "sink", "recommendations", "history", "users-sink", "items-sink"]
# Variables read by libraries rather than by our settings classes.
LIBRARY_VARIABLES = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}


def known_variables() -> set[str]:
    """Every variable a service's settings class reads, and the libraries' AWS credentials."""
    return service_variables() | LIBRARY_VARIABLES


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
    """devtools/kafka_broker/pom.xml is the one place the Kafka version is decided."""
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
    compose default is the settings class's own (what docs/configuration.md documents)."""
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


PROMETHEUS: dict[str, Any] = yaml.safe_load((ROOT / "ops/prometheus/prometheus.yml").read_text())
# Each service's internal listener (/metrics, probes): the variable naming its port.
INTERNAL_PORTS = {
    "ingest": "INGEST_INTERNAL_PORT",
    "streams": "STREAMS_WEB_PORT",
    "sink": "SINK_STATUS_PORT",
    "recommendations": "RECOMMENDATIONS_INTERNAL_PORT",
    "history": "HISTORY_STATUS_PORT",
    "users-sink": "USERS_SINK_STATUS_PORT",
    "items-sink": "ITEMS_SINK_STATUS_PORT",
}


def published(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host side, container port) of each published port."""
    out = []
    for mapping in service.get("ports", []):
        *host, container = str(mapping).split(":")
        out.append((":".join(host), container))
    return out


def test_ingest_endpoint_is_https_with_a_mounted_certificate() -> None:
    ingest = SERVICES["ingest"]
    env = ingest["environment"]
    mounts = {v.rsplit(":", 2)[1]: v for v in ingest["volumes"]}  # source:target:ro
    for name in ("INGEST_TLS_CERT_FILE", "INGEST_TLS_KEY_FILE"):
        directory = env[name].rsplit("/", 1)[0]
        assert directory in mounts and mounts[directory].endswith(":ro"), name
    assert "INGEST_TLS_DIR:?" in " ".join(ingest["volumes"])  # no certificate: no start
    assert published(ingest) == [("443", env["INGEST_PORT"])]


@pytest.mark.parametrize("name", PIPELINE)
def test_metrics_and_probes_are_internal_and_scraped_there(name: str) -> None:
    service = SERVICES[name]
    internal = str(service["environment"][INTERNAL_PORTS[name]])
    assert internal not in {container for _, container in published(service)}
    assert f"127.0.0.1:{internal}/readyz" in " ".join(service["healthcheck"]["test"])
    (job,) = [j for j in PROMETHEUS["scrape_configs"] if j["job_name"] == name]
    assert job["static_configs"][0]["targets"] == [f"{name}:{internal}"]


def test_only_loopback_for_operator_tools_and_nothing_marked_local() -> None:
    for name in ("prometheus", "grafana", "emulator"):
        assert all(host.startswith("127.0.0.1") for host, _ in published(SERVICES[name])), name
    for name in PIPELINE:
        assert "PIPELINE_ENV" not in SERVICES[name]["environment"]  # production by default


def test_the_production_profile_never_starts_the_emulator() -> None:
    """Without --profile local nothing runs it, waits for it or points at it."""
    for name, service in SERVICES.items():
        if name == "emulator":
            continue
        assert "profiles" not in service, name
        assert "emulator" not in (service.get("depends_on") or {}), name
        assert "emulator" not in str(service.get("environment", {})), name


def test_only_the_emulator_builds_the_dev_target() -> None:
    """The other services run the Dockerfile's default (last) stage, which ships no devtools/;
    the emulator is a dev tool, so it builds the `dev` target, under a tag of its own (one tag
    for both images would leave whichever was built last under it)."""
    emulator = SERVICES["emulator"]
    assert emulator["build"]["target"] == "dev"
    for name, service in SERVICES.items():
        if name != "emulator" and "build" in service:
            build = service["build"]
            assert build == "." or build.get("target") in (None, "production"), name
            assert service["image"] != emulator["image"], name
