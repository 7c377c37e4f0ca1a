"""Ingest when Kafka fails or the service stops: 503 + Retry-After and recovery with nothing
lost; graceful shutdown that finishes in-flight requests. Each test runs its own broker, since
it stops or pauses it."""

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.kafka import ensure_topics
from devtools.kafka_broker import EmbeddedKafka, free_port
from ingest import IngestSettings, create_app
from ingest.app import internal_app
from tests.fixtures.kafka_fixture import (
    TopicReader,
    own_topics,
    topic_env,
    wait_for,
    wait_for_async,
)
from tests.fixtures.service_process import ServiceProcess

SECRET = "s3cret-0123456789abcdef0123456789"  # 32+ characters: a process refuses less
AUTH = {"Authorization": f"Bearer {SECRET}"}
URL = "/webhooks/amplitude"


@pytest.fixture
def broker() -> Iterator[EmbeddedKafka]:
    broker = EmbeddedKafka().start()
    yield broker
    broker.stop()


def batch(prefix: str, size: int) -> list[dict[str, object]]:
    return [
        {"event_type": "click", "user_id": f"{prefix}-u{n % 7}", "insert_id": f"{prefix}-{n}"}
        for n in range(size)
    ]


def insert_ids(reader: TopicReader) -> set[str]:
    return {orjson.loads(m.value())["insert_id"] for m in reader.poll()}


async def test_broker_down_gives_503_and_not_ready_then_recovers_with_nothing_lost(
    broker: EmbeddedKafka,
) -> None:
    kafka = own_topics(broker.bootstrap_servers)
    settings = IngestSettings(
        **kafka.model_dump(),
        amplitude_webhook_secret=SECRET,
        ingest_ack_timeout_seconds=2.0,
        ingest_retry_after_seconds=7,
    )
    app = create_app(settings)
    async with (
        TestClient(TestServer(app)) as client,
        TestClient(TestServer(internal_app(app))) as internal,  # /readyz, /metrics
    ):
        assert (await client.post(URL, json=batch("warm", 3), headers=AUTH)).status == 200

        broker.stop_node(1)
        events = batch("outage", 50)
        refused = await client.post(URL, json={"events": events}, headers=AUTH)
        assert refused.status == 503
        assert refused.headers["Retry-After"] == "7"
        assert "retry" in (await refused.json())["error"]
        assert (await internal.get("/readyz")).status == 503
        assert (
            'ingest_requests_total{status="503"}' in await (await internal.get("/metrics")).text()
        )

        # Same port; memory storage lost the topics, so create them again (as `make run` does).
        broker.start_node(1)
        ensure_topics(kafka)

        async def ready() -> bool:
            return (await internal.get("/readyz")).status == 200

        await wait_for_async(ready, 30, "/readyz after the broker came back")

        # Amplitude retries what got no 2xx; the retry is acknowledged (a first retry may still
        # meet the producer re-establishing its idempotence state: the sender retries again).
        statuses: list[int] = []

        async def retried() -> bool:
            response = await client.post(URL, json={"events": events}, headers=AUTH)
            statuses.append(response.status)
            return response.status == 200

        await wait_for_async(retried, 30, "a retried post to be acknowledged")
        assert set(statuses) <= {200, 503}

    reader = TopicReader(broker.bootstrap_servers, kafka.raw_topic)
    try:
        expected = {str(e["insert_id"]) for e in events}
        wait_for(lambda: expected <= insert_ids(reader), 30, "every outage event on the topic")
    finally:
        reader.close()


async def test_sigterm_finishes_in_flight_requests_then_flushes(
    broker: EmbeddedKafka, tmp_path: Path
) -> None:
    kafka = own_topics(broker.bootstrap_servers)
    port, internal_port = free_port(), free_port()
    service = ServiceProcess(
        "ingest",
        {
            **topic_env(kafka),
            "AMPLITUDE_WEBHOOK_SECRET": SECRET,
            "INGEST_PORT": str(port),
            "INGEST_INTERNAL_PORT": str(internal_port),
            "INGEST_ACK_TIMEOUT_SECONDS": "60",
            "INGEST_SHUTDOWN_TIMEOUT_SECONDS": "60",
        },
        f"http://127.0.0.1:{internal_port}/readyz",
        tmp_path / "ingest.log",
    ).start()
    base, internal = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{internal_port}"
    kafka_pid = broker.pid()  # the broker process itself: paused to hold requests in flight
    paused = False
    try:
        async with aiohttp.ClientSession(base) as session:
            async with session.post(URL, json=batch("warm", 2), headers=AUTH) as warm:
                assert warm.status == 200

            os.kill(kafka_pid, signal.SIGSTOP)
            paused = True

            async def post(n: int) -> int:
                async with session.post(URL, json=batch(f"held{n}", 20), headers=AUTH) as r:
                    return r.status

            held = [asyncio.create_task(post(n)) for n in range(5)]

            async def all_in_flight() -> bool:
                async with aiohttp.ClientSession(internal) as probe:
                    async with probe.get("/metrics") as response:
                        text = await response.text()
                return "ingest_requests_in_flight 5.0" in text

            await wait_for_async(all_in_flight, 30, "5 requests waiting for Kafka")

            assert service.process is not None
            service.process.send_signal(signal.SIGTERM)

            async def refusing() -> bool:
                try:
                    async with aiohttp.ClientSession(base) as probe:
                        async with probe.get("/openapi.json"):
                            return False
                except aiohttp.ClientConnectionError:
                    return True

            await wait_for_async(refusing, 30, "ingest to stop accepting connections")
            assert not any(task.done() for task in held)

            os.kill(kafka_pid, signal.SIGCONT)
            paused = False
            assert await asyncio.gather(*held) == [200] * 5
        assert await asyncio.to_thread(service.process.wait, 60) == 0
    finally:
        if paused:
            os.kill(kafka_pid, signal.SIGCONT)
        service.stop()

    reader = TopicReader(broker.bootstrap_servers, kafka.raw_topic)
    try:
        expected = {f"held{n}-{i}" for n in range(5) for i in range(20)}
        wait_for(lambda: expected <= insert_ids(reader), 30, "every held event on the topic")
    finally:
        reader.close()
    log = (tmp_path / "ingest.log").read_text()
    assert "producer flushed" in log
    assert SECRET not in log
