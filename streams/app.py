"""The Faust app: one agent from the raw topic to the interactions and dead-letter topics."""

import logging
import time

import faust
import orjson
from faust.sensors.prometheus import setup_prometheus_sensors
from faust.web import Request, Response, View

from schemas import load_rules
from streams import metrics
from streams.settings import StreamsSettings
from streams.weighting import DeadLetter, Filtered, Weigher

log = logging.getLogger(__name__)

# Amplitude has many event types and the filtered counter is labelled by type: past this many
# distinct names, the rest are counted as "other" so the label stays of low cardinality.
_MAX_FILTERED_LABELS = 200


def create_app(settings: StreamsSettings) -> faust.App:
    rules = load_rules(settings.streams_rules_path)  # refuses to start on a bad rules file
    weigher = Weigher(rules, settings.streams_item_id_properties)
    session_timeout = settings.kafka_session_timeout_ms / 1000
    app = faust.App(
        settings.streams_app_id,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap_servers.split(",")],
        processing_guarantee="at_least_once",
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=session_timeout,
        broker_heartbeat_interval=max(0.5, session_timeout / 6),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        datadir=str(settings.streams_data_dir),
        web_host=settings.streams_web_host,
        web_port=settings.streams_web_port,
        web_in_thread=False,
    )
    setup_prometheus_sensors(app, name_prefix="streams_faust")

    raw = app.topic(settings.raw_topic, key_serializer="raw", value_serializer="raw")
    interactions = app.topic(
        settings.interactions_topic, key_serializer="raw", value_serializer="raw"
    )
    dead_letters = app.topic(
        settings.raw_dead_letter_topic, key_serializer="raw", value_serializer="raw"
    )
    filtered_labels: set[str] = set()

    @app.page("/readyz")
    async def readyz(view: View, request: Request) -> Response:
        """Ready once this worker holds partitions and is not in the middle of a rebalance."""
        ready = bool(app.consumer.assignment()) and not app.rebalancing
        return view.json({"ready": ready}, status=200 if ready else 503)

    @app.page("/healthz")
    async def healthz(view: View, request: Request) -> Response:
        return view.json({"status": "ok"})

    @app.agent(raw, name="weigh")
    async def weigh(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            metrics.EVENTS_IN.inc()
            outcome = weigher.weigh(event.value)
            if isinstance(outcome, Filtered):
                label = outcome.event_type
                if label not in filtered_labels and len(filtered_labels) >= _MAX_FILTERED_LABELS:
                    label = "other"
                filtered_labels.add(label)
                metrics.FILTERED.labels(event_type=label).inc()
            elif isinstance(outcome, DeadLetter):
                metrics.DEAD_LETTERS.labels(reason=outcome.reason).inc()
                await dead_letters.send(
                    key=event.key,
                    value=event.value,
                    headers={
                        "dead_letter_reason": outcome.reason.encode(),
                        "dead_letter_detail": outcome.detail[:1000].encode(),
                        "stage": b"streams",
                    },
                )
            else:
                interaction = outcome.interaction
                await interactions.send(
                    key=interaction.key.encode(), value=orjson.dumps(interaction.model_dump())
                )
                metrics.EVENTS_OUT.labels(event_type=interaction.event_type).inc()
                metrics.LAG.observe(max(0.0, time.time() - interaction.timestamp_ms / 1000))

    return app


def run(settings: StreamsSettings) -> None:
    from faust.worker import Worker

    app = create_app(settings)
    Worker(
        app, loglevel=settings.log_level.lower(), redirect_stdouts=False
    ).execute_from_commandline()
