"""docker-compose.yml, checked by reading (no Docker engine here): services, health, settings."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from backfill import BackfillSettings
from emulator import EmulatorSettings
from ingest import IngestSettings
from personalize import PersonalizeSetupSettings
from recommendations import RecommendationsSettings
from sinks import SinkSettings
from sinks.history_settings import HistorySettings
from streams import StreamsSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
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
