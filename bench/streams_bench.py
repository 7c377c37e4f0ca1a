"""Streams benchmark: our Faust worker (dedup on) against a plain confluent-kafka loop.

Both run in the same invocation on the same embedded broker, over the same raw events, each
pinned to core 1 with `taskset -c 1` while the broker is pinned to core 0. The plain loop is the
ceiling (consume -> weigh with the same Weigher -> produce); the goal is a ratio against it.

    .venv/bin/python bench/streams_bench.py --events 300000 --runs 3

The worker's rate is read from its own `streams_events_in_total` between the first scrape that
shows progress and the scrape that shows every event processed.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

from core.kafka import ensure_topics, producer_config
from core.settings import KafkaSettings
from devtools.kafka_broker import EmbeddedKafka, free_port

ROOT = Path(__file__).resolve().parent.parent
WEIGHED_TYPES = ["click", "view", "upvote", "share", "bookmark", "comment", "Donate", "hide"]
IMPRESSION_TYPES = ["initial_impression", "scroll_impression"]
FILTERED_TYPES = ["page_view", "session_start", "app_open", "search"]


def make_event(n: int, rng: random.Random) -> tuple[bytes, bytes]:
    """A ~650-byte Amplitude-like event; 60% weighted, 10% impressions, 30% filtered."""
    roll = rng.random()
    if roll < 0.6:
        event_type = rng.choice(WEIGHED_TYPES)
    elif roll < 0.7:
        event_type = rng.choice(IMPRESSION_TYPES)
    else:
        event_type = rng.choice(FILTERED_TYPES)
    user = f"user-{rng.randrange(20000)}"
    props: dict[str, object] = {
        "item_id": f"item-{rng.randrange(100000)}",
        "source": "feed",
        "position": rng.randrange(50),
    }
    if event_type in IMPRESSION_TYPES:
        props["impression"] = [f"item-{rng.randrange(100000)}" for _ in range(10)]
        props["recommendation_id"] = f"rec-{rng.randrange(10**9)}"
    event = {
        "event_type": event_type,
        "user_id": user,
        "device_id": f"device-{uuid.UUID(int=rng.getrandbits(128))}",
        "time": 1764000000000 + n,
        "insert_id": f"{user}-{n}-{rng.getrandbits(32):08x}",
        "session_id": 1764000000000 - rng.randrange(10**6),
        "event_id": n,
        "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
        "platform": "Web",
        "os_name": "Chrome",
        "os_version": "131",
        "device_family": "Mac",
        "country": "New Zealand",
        "city": "Wellington",
        "language": "English",
        "ip_address": "203.0.113.7",
        "library": "amplitude-ts/2.11.0",
        "event_properties": props,
        "user_properties": {"plan": "free", "signup_week": "2025-W40", "cohort": "b"},
    }
    return user.encode(), orjson.dumps(event)


def fill(settings: KafkaSettings, count: int) -> int:
    rng = random.Random(42)
    producer = Producer(producer_config(settings, **{"linger.ms": 20}))
    size = 0
    for n in range(count):
        key, value = make_event(n, rng)
        size += len(value)
        while True:
            try:
                producer.produce(settings.raw_topic, value, key)
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(60) == 0
    return size // count


def plain_loop(bootstrap: str, raw_topic: str, out_topic: str, count: int) -> None:
    """The ceiling: consume (manual assignment), weigh, produce; prints events/s."""
    from schemas import interaction_encoder, load_rules
    from streams.weighting import Weighed, Weigher

    weigher = Weigher(load_rules(), ["item_id", "itemId", "content_id"])
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"plain-{uuid.uuid4().hex}"}
        | {"enable.auto.commit": False, "auto.offset.reset": "earliest"}
    )
    partitions = consumer.list_topics(raw_topic, timeout=10).topics[raw_topic].partitions
    consumer.assign([TopicPartition(raw_topic, p, 0) for p in partitions])
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True}
        | {"acks": "all", "partitioner": "murmur2_random"}
    )
    seen = started = 0
    while seen < count:
        messages = consumer.consume(1000, 1.0)
        if messages and not started:
            started = time.perf_counter()
        for message in messages:
            if message.error() is not None:
                continue
            seen += 1
            outcome = weigher.weigh(message.value())
            if isinstance(outcome, Weighed):
                interaction = outcome.interaction
                while True:
                    try:
                        producer.produce(
                            out_topic, interaction_encoder.encode(interaction), interaction.key
                        )
                        break
                    except BufferError:
                        producer.poll(0.05)
        producer.poll(0)
    assert producer.flush(60) == 0
    elapsed = time.perf_counter() - started
    print(orjson.dumps({"events": seen, "seconds": elapsed, "rate": seen / elapsed}).decode())


def run_plain(settings: KafkaSettings, count: int) -> float:
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "1",
            sys.executable,
            __file__,
            "plain",
            settings.kafka_bootstrap_servers,
            settings.raw_topic,
            f"plain-out-{uuid.uuid4().hex[:6]}",
            str(count),
        ],
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    return float(orjson.loads(out.stdout.splitlines()[-1])["rate"])


def scrape_events_in(port: int) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            text = response.read().decode()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("streams_events_in_total "):
            return float(line.split()[1])
    return 0.0


def run_faust(settings: KafkaSettings, count: int, log: Path) -> float:
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "RAW_TOPIC": settings.raw_topic,
        "INTERACTIONS_TOPIC": f"faust-out-{uuid.uuid4().hex[:6]}",
        "RAW_DEAD_LETTER_TOPIC": settings.raw_dead_letter_topic,
        "TOPIC_PARTITIONS": str(settings.topic_partitions),
        "STREAMS_APP_ID": f"bench-{uuid.uuid4().hex[:8]}",
        "STREAMS_WEB_PORT": str(port),
        "STREAMS_DATA_DIR": tempfile.mkdtemp(prefix="streams-bench-"),
        "LOG_LEVEL": "WARNING",
    }
    ensure_topics(settings.model_copy(update={"interactions_topic": env["INTERACTIONS_TOPIC"]}))
    with open(log, "ab") as output:
        worker = subprocess.Popen(
            ["taskset", "-c", "1", sys.executable, "-m", "pipeline.cli", "streams"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        deadline = time.monotonic() + 180
        first: tuple[float, float] | None = None
        while True:  # polling another process's counter: there is nothing to await
            now, done = time.perf_counter(), scrape_events_in(port)
            if first is None and done > 0:
                first = (now, done)
            if done >= count:
                assert first is not None
                return (done - first[1]) / (now - first[0])
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker stopped or too slow ({done} events); see {log}")
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(30)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "plain":
        bootstrap, raw_topic, out_topic, count = sys.argv[2:6]
        plain_loop(bootstrap, raw_topic, out_topic, int(count))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args()
    log = Path(tempfile.mkdtemp(prefix="streams-bench-")) / "worker.log"
    print(f"machine: {_cpu_model()}, {os.cpu_count()} cores; load average {os.getloadavg()}")
    with EmbeddedKafka() as broker:
        broker.pin({0})
        os.sched_setaffinity(0, {0})  # this driver too: core 1 is for the measured process
        settings = KafkaSettings(
            kafka_bootstrap_servers=broker.bootstrap_servers,
            raw_topic="bench-raw",
            topic_partitions=args.partitions,
        )
        ensure_topics(settings)
        size = fill(settings, args.events)
        print(f"{args.events} events of ~{size} B on {args.partitions} partitions")
        plain, faust = [], []
        for run in range(args.runs):
            plain.append(run_plain(settings, args.events))
            faust.append(run_faust(settings, args.events, log))
            print(f"run {run + 1}: plain {plain[-1]:,.0f}/s, faust worker {faust[-1]:,.0f}/s")
        p, f = statistics.median(plain), statistics.median(faust)
        print("| path | events/s (median) |\n| --- | --- |")
        print(f"| plain confluent loop | {p:,.0f} |\n| Faust worker, dedup on | {f:,.0f} |")
        print(f"ratio: {f / p:.1%} (goal >= 15%)")
    print(f"load average after: {os.getloadavg()}")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


if __name__ == "__main__":
    main()
