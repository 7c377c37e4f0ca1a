"""Consume the interactions topic as another team would: only confluent-kafka and json.

    python examples/consume_interactions.py --bootstrap 127.0.0.1:9092 --group my-team

Prints one line per interaction. Offsets are committed after a record is handled, so after a
crash this consumer sees the uncommitted records again (at-least-once, like the producer side):
use `event_id` to drop repeats. Unknown fields are ignored: fields are only ever added.
"""

import argparse
import json
import sys

from confluent_kafka import Consumer, KafkaException

SUPPORTED_SCHEMA_VERSIONS = {1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--topic", default="interactions.weighted")
    parser.add_argument("--group", default="interactions-example")
    parser.add_argument("--max-messages", type=int, default=0, help="stop after this many (0: run)")
    args = parser.parse_args()

    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([args.topic])
    handled = 0
    seen_event_ids: set[str] = set()  # a real consumer keeps this bounded (or upserts by id)
    try:
        while not args.max_messages or handled < args.max_messages:
            message = consumer.poll(1.0)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            record = json.loads(message.value())
            if record["schema_version"] not in SUPPORTED_SCHEMA_VERSIONS:
                sys.exit(f"schema_version {record['schema_version']}: upgrade this consumer")
            if record["event_id"] not in seen_event_ids:
                seen_event_ids.add(record["event_id"])
                actor = record["user_id"] or f"device:{record['device_id']}"
                print(
                    f"{actor} {record['event_type']} {record['item_id']} "
                    f"weight={record['weight']} at={record['timestamp_ms']}",
                    flush=True,
                )
            consumer.commit(message, asynchronous=False)  # after handling: at-least-once
            handled += 1
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
