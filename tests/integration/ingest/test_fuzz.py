"""schemathesis fuzzes the running service from its own /openapi.json, on the real broker.

At least 1,000 generated requests (valid and schema-violating bodies, JSON and NDJSON, with and
without the secret); none may get a 5xx, and every answer must match the document.
"""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.settings import KafkaSettings
from devtools.kafka_broker import free_port
from tests.fixtures.kafka_fixture import TopicReader, topic_env
from tests.fixtures.service_process import ServiceProcess

SECRET = "fuzz-secret-0123456789abcdef0123456789"  # 32+ characters: a process refuses less
AUTH = {"Authorization": f"Bearer {SECRET}"}
REQUESTS = 1000


@schemathesis.serializer("application/x-ndjson")
def _ndjson(_context: Any, value: Any) -> dict[str, Any]:
    """NDJSON: each event of a generated array on its own line; anything else as one line."""
    if isinstance(value, list):
        return {"data": "\n".join(json.dumps(item) for item in value).encode()}
    return {"data": json.dumps(value).encode()}


@pytest.fixture
def ingest_log(tmp_path: Path) -> Path:
    return tmp_path / "ingest.log"


@pytest.fixture
def ingest_url(kafka_settings: KafkaSettings, ingest_log: Path) -> Iterator[tuple[str, str]]:
    """The public (webhook) and internal (/metrics) base URLs of a running ingest."""
    port, internal_port = free_port(), free_port()
    service = ServiceProcess(
        "ingest",
        {
            **topic_env(kafka_settings),
            "AMPLITUDE_WEBHOOK_SECRET": SECRET,
            "INGEST_PORT": str(port),
            "INGEST_INTERNAL_PORT": str(internal_port),
            "INGEST_MAX_EVENTS": "50",
            "LOG_LEVEL": "INFO",
        },
        f"http://127.0.0.1:{internal_port}/readyz",
        ingest_log,
    ).start()
    yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{internal_port}"
    assert service.stop() == 0


def test_a_thousand_generated_requests_get_no_5xx(
    ingest_url: tuple[str, str], kafka_settings: KafkaSettings, ingest_log: Path
) -> None:
    ingest_url, internal_url = ingest_url
    schema = schemathesis.openapi.from_url(f"{ingest_url}/openapi.json")
    webhook = schema["/webhooks/amplitude"]["POST"]
    cases = st.one_of(
        webhook.as_strategy(GenerationMode.POSITIVE, headers=AUTH),
        webhook.as_strategy(GenerationMode.NEGATIVE, headers=AUTH),
        webhook.as_strategy(GenerationMode.POSITIVE, headers={"Authorization": "Bearer wrong"}),
        schema.as_strategy(GenerationMode.POSITIVE),
    )
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    statuses: dict[int, int] = {}
    session = requests.Session()

    @settings(
        max_examples=REQUESTS,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def fuzz(case: Any) -> None:
        case.headers = {**(case.headers or {}), "X-Request-Id": f"fuzz-{uuid.uuid4().hex}"}
        response = case.call(base_url=ingest_url, session=session, timeout=30)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        case.validate_response(response, checks=checks)

    fuzz()
    assert sum(statuses.values()) >= REQUESTS, statuses
    assert not [status for status in statuses if status >= 500], statuses
    # The fuzz reached every answer the webhook gives, including real writes to Kafka.
    assert {200, 400, 401} <= set(statuses), statuses
    reader = TopicReader(kafka_settings.kafka_bootstrap_servers, kafka_settings.raw_topic)
    try:
        assert reader.read(1)
    finally:
        reader.close()
    metrics = requests.get(f"{internal_url}/metrics", timeout=5).text
    assert 'ingest_requests_total{status="200"}' in metrics
    assert 'ingest_requests_total{status="5' not in metrics

    # Logs: one JSON object a line (librdkafka's included), refusals carry the request id,
    # and neither the secret nor a body ever shows.
    lines = ingest_log.read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    refused = [e for e in entries if e["msg"] == "webhook refused"]
    assert refused and all(e["request_id"].startswith("fuzz-") for e in refused)
    assert {e["status"] for e in refused} >= {400, 401}
    assert not [line for line in lines if SECRET in line or "event_type" in line]
