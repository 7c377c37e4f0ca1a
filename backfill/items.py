"""`pipeline backfill-items`: a catalogue file's items onto the items topic, keyed by item id.

The items topic is compacted: a record is the item's whole state and the newest per id wins,
so running a file twice changes nothing. The run ends only after Kafka acknowledged every
record; bad rows are reported (line and reason) and skipped (backfill/catalogue.py).
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import KafkaError, Message, Producer

from backfill.catalogue import BadRow, item_record, rows
from backfill.settings import BackfillSettings
from core.kafka import produce_when_room, producer_config
from schemas import catalog_encoder, load_rules

# At most this many bad rows are listed in the report (all are counted).
_LISTED_BAD_ROWS = 1000


@dataclass
class ItemsReport:
    produced: int = 0
    skipped: int = 0
    failed: int = 0  # not acknowledged by Kafka
    bad_rows: list[BadRow] = field(default_factory=list)


def run_items_backfill(
    settings: BackfillSettings, path: Path, id_columns: tuple[str, ...]
) -> ItemsReport:
    rules = load_rules(settings.streams_rules_path)
    if not rules.items.field:
        raise SystemExit("backfill-items: the rules map no [items] field: nothing to write")
    report = ItemsReport()
    producer = Producer(producer_config(settings, **{"linger.ms": 20}))

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            report.failed += 1

    now_ms = int(time.time() * 1000)
    try:
        for line, row, problem in rows(path):
            record = None
            if row is not None:
                record, problem = item_record(row, rules.items, id_columns, now_ms)
            if record is None:
                report.skipped += 1
                if len(report.bad_rows) < _LISTED_BAD_ROWS:
                    report.bad_rows.append(BadRow(line, problem or "unreadable"))
                continue
            value, key = catalog_encoder.encode(record), record.item_id.encode()
            produce_when_room(producer, settings.items_topic, value, key=key, on_delivery=delivered)
            report.produced += 1
            producer.poll(0)
    except UnicodeDecodeError as exc:
        raise SystemExit(f"backfill-items: {path} is not UTF-8 text: {exc.reason}") from None
    finally:
        report.failed += producer.flush(60)
    return report
