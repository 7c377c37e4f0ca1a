"""docker-compose.yml, checked by reading (no Docker engine here): services, health, settings."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from backfill import BackfillSettings
from emulator import EmulatorSettings
from ingest import IngestSettings
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


PROMETHEUS: dict[str, Any] = yaml.safe_load((ROOT / "ops/prometheus/prometheus.yml").read_text())
# Each service's internal listener (/metrics, probes): the variable naming its port.
INTERNAL_PORTS = {
    "ingest": "INGEST_INTERNAL_PORT",
    "streams": "STREAMS_WEB_PORT",
    "sink": "SINK_STATUS_PORT",
    "recommendations": "RECOMMENDATIONS_INTERNAL_PORT",
    "history": "HISTORY_STATUS_PORT",
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
