"""The stream stage's per-record path alone: BatchProcessor.process over in-memory events.

No broker, no Faust: CPU time per event of decode, normalise, weigh, contract checks, dedup and
encode, with a producer that drops what it is given. Compare two checkouts on one machine,
alternating runs (a shared machine's noise is larger than small differences):

    .venv/bin/python bench/processor_bench.py --events 200000 --runs 7
"""

import argparse
import time

import orjson

from schemas import load_rules
from streams.dedup import SeenInsertIds
from streams.processor import BatchProcessor, Destinations
from streams.weighting import Weigher


class _Discard:
    def produce(self, *_args: object, **_kwargs: object) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    events = [
        (
            n % 6,
            b"u%d" % (n % 500),
            orjson.dumps(
                {
                    "event_type": "click",
                    "user_id": f"u{n % 500}",
                    "time": 1700000000000 + n,
                    "session_id": 1700000000000,
                    "insert_id": f"id-{n}",
                    "event_properties": {"item_id": f"i{n % 1000}"},
                }
            ),
        )
        for n in range(args.events)
    ]
    timings = []
    for _ in range(args.runs):
        processor = BatchProcessor(
            Weigher(load_rules(), ["item_id"]),
            SeenInsertIds(86400),
            _Discard(),
            Destinations("interactions", "dead-letters", "changelog"),
        )
        started = time.process_time()
        for start in range(0, len(events), args.batch):
            processor.process(events[start : start + args.batch])
        timings.append(time.process_time() - started)
    best = min(timings) / len(events) * 1e6
    print(f"{best:.2f} us of CPU per event (best of {args.runs}, {len(events)} events)")


if __name__ == "__main__":
    main()
