"""The Faust app: raw topic -> weigh in batches -> interactions and dead-letter topics, and
(when the rules map user or item fields) the users and items topics, on changes only.

Faust owns the consumer group, the offsets, the dedup table and its recovery, the web server
and its sensors. Records are produced by librdkafka (streams/producer.py) and a batch's offsets
are acknowledged only after Kafka acknowledged all of its outputs.
"""

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import faust
from faust.sensors.prometheus import setup_prometheus_sensors
from faust.types import TP
from faust.web import Request, Response, View

from core.kafka import producer_config
from schemas import load_rules
from streams import faust_internals, metrics
from streams.catalog_reader import CatalogReader
from streams.catalog_updates import CatalogUpdates
from streams.consumer import BatchingConsumer, install
from streams.credentials import UntranslatableConfig, faust_credentials
from streams.dedup import SeenInsertIds
from streams.processor import BatchProcessor, Destinations
from streams.producer import BatchProducer, DeliveryFailed
from streams.settings import StreamsSettings
from streams.weighting import Weigher

log = logging.getLogger(__name__)

SEEN_TABLE = "seen-insert-ids"
CATALOG_TABLE = "users-items-state"


def create_app(settings: StreamsSettings) -> faust.App:
    rules = load_rules(settings.streams_rules_path)  # refuses to start on a bad rules file
    weigher = Weigher(
        rules, settings.streams_item_id_properties, settings.streams_max_future_seconds
    )
    session_timeout = settings.kafka_session_timeout_ms / 1000
    app = faust.App(
        settings.streams_app_id,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap_servers.split(",")],
        # KAFKA_CLIENT_CONFIG's SASL/TLS settings, for Faust's own (aiokafka) clients.
        broker_credentials=faust_credentials(settings.client_overrides()),
        processing_guarantee="at_least_once",
        producer_acks=-1,
        # A group without a valid offset (new, expired, or behind the raw topic's retention)
        # weighs everything still kept rather than skip it; re-deliveries within the dedup
        # window are dropped by insert id.
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=session_timeout,
        broker_heartbeat_interval=max(0.5, session_timeout / 6),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        datadir=str(settings.streams_data_dir),
        web_host=settings.streams_web_host,
        web_port=settings.streams_web_port,
        web_in_thread=False,
        # Off unless asked for: the dedup table's contents and the cluster's worker URLs.
        web_tables_enabled=settings.streams_web_table_views,
        web_router_enabled=settings.streams_web_router_views,
        broker_max_poll_records=settings.streams_batch_size,
        # No standbys: Faust's memory store drops standby data when a recovery completes, so a
        # worker taking a partition over must read its whole changelog (bounded by the window).
        table_standby_replicas=0,
    )
    setup_prometheus_sensors(app, name_prefix="streams_faust")

    raw = app.topic(settings.raw_topic, key_serializer="raw", value_serializer="raw")
    window_ms = int(settings.streams_dedup_window_seconds * 1000)
    seen_table = app.Table(
        SEEN_TABLE,
        key_type=bytes,  # bytes: Faust's "raw" codec for keys and values
        value_type=bytes,
        partitions=settings.topic_partitions,  # co-partitioned with the raw topic
        # The log forgets what the window forgets: deleted after the window.
        extra_topic_configs={
            "cleanup.policy": "delete",
            "retention.ms": window_ms,
            **settings.min_insync_replicas_config(),
        },
    )
    seen = SeenInsertIds(settings.streams_dedup_window_seconds)
    # The latest users/items fields per source partition (streams/catalog_updates.py); its
    # changelog is compacted (Faust's default for a table): the newest state per id survives.
    catalog_table = app.Table(
        CATALOG_TABLE,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.topic_partitions,
        extra_topic_configs=settings.min_insync_replicas_config(),
    )

    @seen_table.on_recover
    async def load_seen() -> None:
        """After each recovery: fold the recovered changelog records into `seen`."""
        store = seen_table.data
        loaded = seen.load(list(store.items()))
        for key in list(store.keys()):  # the records are in `seen` now; keep one copy
            del store[key]
        log.info("dedup memory: %d insert ids recovered, %d held", loaded, len(seen))
        metrics.DEDUP_HELD.set(len(seen))

    @catalog_table.on_recover
    async def load_catalog() -> None:
        """After each recovery: fold the recovered users/items state into `catalog`."""
        if catalog is None:
            return
        store = catalog_table.data
        loaded = catalog.load(list(store.items()))
        for key in list(store.keys()):
            del store[key]
        log.info("users/items state: %d records recovered", loaded)

    @app.on_partitions_assigned.connect
    async def drop_revoked(_app: faust.App, assigned: set[TP], **_: Any) -> None:
        """Forget the insert ids of raw partitions this worker no longer holds.

        The assignment, not the revocation: an eager rebalance revokes every partition, and a
        partition kept is not recovered again (its ids must stay)."""
        held = {tp.partition for tp in assigned if tp.topic == settings.raw_topic}
        dropped = seen.drop(seen.partitions() - held)
        if dropped:
            log.info("dedup memory: %d insert ids of revoked partitions dropped", dropped)
        if catalog is not None:
            catalog.drop(catalog.partitions() - held)
        metrics.DEDUP_HELD.set(len(seen))

    # Room for the outputs (one per raw event at most) of every batch in flight and one more,
    # so produce() never waits.
    # One batch at a time when users/items are mapped: CatalogUpdates holds the changes of
    # every batch processed since its last write_state, so with batches in flight one batch's
    # state records could count another's changes as written before Kafka acknowledged them.
    catalog_mapped = bool(rules.users.field or rules.items.field)
    in_flight = 1 if catalog_mapped else BatchingConsumer.max_batches_in_flight
    room = max(100_000, (in_flight + 1) * settings.streams_batch_size)
    # Up to three outputs a raw event: an interaction, a user and an item record.
    room = 2 * room if (rules.users.field or rules.items.field) else room
    producer = BatchProducer(producer_config(settings, **{"queue.buffering.max.messages": room}))
    catalog = None
    if rules.users.field or rules.items.field:  # nothing mapped: nothing read, nothing held
        catalog = CatalogUpdates(
            CatalogReader(rules.users, rules.items, settings.streams_item_id_properties),
            producer,
            users_topic=settings.users_topic,
            items_topic=settings.items_topic,
            state_changelog=catalog_table.changelog_topic.get_topic_name(),
        )
    processor = BatchProcessor(
        weigher,
        seen,
        producer,
        Destinations(
            interactions=settings.interactions_topic,
            dead_letters=settings.raw_dead_letter_topic,
            seen_changelog=seen_table.changelog_topic.get_topic_name(),
        ),
        max_record_bytes=settings.kafka_message_max_bytes,
        catalog=catalog,
    )

    @app.page("/readyz")
    async def readyz(view: View, request: Request) -> Response:
        """Ready once this worker holds raw-topic partitions and is not rebalancing.

        (Faust's own `__assignor-__leader` partition alone does not count.)
        """
        holds_raw = any(tp.topic == settings.raw_topic for tp in app.consumer.assignment())
        ready = holds_raw and not app.rebalancing
        return view.json({"ready": ready}, status=200 if ready else 503)

    @app.page("/healthz")
    async def healthz(view: View, request: Request) -> Response:
        return view.json({"status": "ok"})

    async def handle(records: Mapping[TP, Sequence[Any]]) -> None:
        """Process one fetched batch; returns once Kafka acknowledged all of its outputs."""
        seen_entries = processor.process(
            (tp.partition, record.key, record.value)
            for tp, batch in records.items()
            for record in batch
        )
        try:
            await producer.delivered()  # interactions, users and items records, dead letters
            processor.write_seen(seen_entries)  # only now may their insert ids count as seen
            if catalog is not None:
                catalog.write_state()  # only now may those changes count as written
            metrics.DEDUP_HELD.set(len(seen))
            await producer.delivered()
        except DeliveryFailed as exc:
            # Fatal: the worker stops with the batch unacknowledged; it is read again later.
            log.critical("outputs not acknowledged by Kafka: %s", exc)
            raise

    faust_internals.require(app)  # refuses to start on a faust-streaming it cannot drive
    install(app, settings.raw_topic, handle, max_batches_in_flight=in_flight)

    @app.agent(raw, name="weigh")
    async def weigh(stream: faust.StreamT[bytes]) -> None:
        """Subscribes the raw topic (and co-partitions the table with it).

        Its records never reach this stream: the batching consumer hands each fetch to
        `handle`. Should one arrive anyway, it is left unacknowledged (so never committed) and
        the consumer lag grows: nothing is lost.
        """
        async for _event in stream.noack():
            log.critical("a raw record bypassed the batching consumer: left unacknowledged")

    @app.timer(interval=min(3600.0, settings.streams_dedup_window_seconds / 4))
    async def expire_seen() -> None:
        expired = seen.expire(int(time.time() * 1000))
        if expired:
            log.info("forgot %d insert ids older than the dedup window", expired)
        metrics.DEDUP_HELD.set(len(seen))

    return app


def run(settings: StreamsSettings) -> None:
    from faust.worker import Worker

    from core.consumer_lag import LagReporter

    try:
        app = create_app(settings)
    except UntranslatableConfig as exc:
        raise SystemExit(f"streams: refusing to start: {exc}") from None
    # kafka_consumergroup_lag for this group on the raw topic, on the same /metrics.
    lag = LagReporter(settings, settings.streams_app_id, settings.raw_topic).start()
    # Logging stays as configure_logging set it (JSON lines, like every service), Faust's and
    # mode's own lines included: mode would replace the root handlers with its own format.
    # Quiet, and without the start-up spinner: the console text they print is not log lines
    # (Faust itself drops the spinner below WARN and logs "Ready" instead).
    worker = Worker(app, redirect_stdouts=False, override_logging=False, quiet=True)
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    finally:
        lag.stop()
