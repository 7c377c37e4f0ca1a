"""Streams benchmark: our Faust worker (dedup on) against a plain confluent-kafka loop.

Both run in the same invocation on the same embedded broker, over the same raw events, each
pinned to core 1 with `taskset -c 1` while the broker is pinned to core 0. The plain loop is the
ceiling (consume -> weigh with the same Weigher -> produce); the goal is a ratio against it.

    .venv/bin/python bench/streams_bench.py --events 300000 --runs 3

The worker's rate is read from its own `streams_events_in_total` between the first scrape that
shows progress and the last one before every event was processed (a scrape every 0.5 s). Both
paths also report events per CPU-second and their CPU by thread; `--baseline DIR` times another
checkout's worker in the same runs, `--profile DIR` writes py-spy profiles by thread.
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
from dataclasses import dataclass
from pathlib import Path

import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

from core.kafka import ensure_topics, producer_config
from core.settings import KafkaSettings
from devtools.kafka_broker import EmbeddedKafka, free_port

ROOT = Path(__file__).resolve().parent.parent
WEIGHED_TYPES = ["click", "view", "upvote", "share", "bookmark", "comment", "Donate", "hide"]
IMPRESSION_TYPES = ["initial_impression", "scroll_impression"]
SCRAPE_INTERVAL = 0.5  # seconds between two reads of the worker's counter
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
    seen = started = cpu_started = 0
    threads_started: dict[str, float] = {}
    while seen < count:
        messages = consumer.consume(1000, 1.0)
        if messages and not started:
            started, cpu_started = time.perf_counter(), time.process_time()
            threads_started = thread_cpu()
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
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(
        orjson.dumps(
            {"events": seen, "seconds": elapsed, "rate": seen / elapsed, "cpu": cpu}
            | {"threads": thread_share(threads_started, thread_cpu())}
        ).decode()
    )


@dataclass
class Result:
    rate: float  # events/s, wall clock
    per_cpu_second: float  # events per CPU-second of the process (all its threads)
    threads: str  # each thread's share of that CPU


def thread_cpu(pid: int | str = "self") -> dict[str, float]:
    """CPU-seconds of `pid`'s threads so far, summed by thread name."""
    by_name: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        by_name[name] = by_name.get(name, 0.0) + cpu
    return by_name


def thread_share(before: dict[str, float], after: dict[str, float]) -> str:
    """Each thread's share of the CPU used between two `thread_cpu` readings."""
    used = {name: cpu - before.get(name, 0.0) for name, cpu in after.items()}
    total = sum(used.values()) or 1.0
    top = sorted(used.items(), key=lambda item: -item[1])[:6]
    return ", ".join(f"{name} {cpu / total:.0%}" for name, cpu in top if cpu > 0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of every thread of `pid` so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile(pid: int, seconds: float, out: Path | None) -> subprocess.Popen[bytes] | None:
    """py-spy (PY_SPY, or on PATH) sampling `pid` by thread, native frames included."""
    if out is None:
        return None
    command = [os.environ.get("PY_SPY", "py-spy"), "record", "--pid", str(pid), "--threads"]
    command += ["--native", "-r", "200", "-d", str(seconds), "-f", "raw", "-o", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_plain(settings: KafkaSettings, count: int, profile_to: Path | None = None) -> Result:
    command = [
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
    ]
    plain = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT)
    spy = profile(plain.pid, 3, profile_to)
    stdout, _ = plain.communicate(timeout=300)
    if spy is not None:
        spy.wait(30)
    if plain.returncode != 0:
        raise RuntimeError(f"plain loop failed ({plain.returncode})")
    result = orjson.loads(stdout.splitlines()[-1])
    return Result(result["rate"], result["events"] / result["cpu"], result["threads"])


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


def run_faust(
    settings: KafkaSettings,
    count: int,
    log: Path,
    profile_to: Path | None = None,
    root: Path = ROOT,
) -> Result:
    """The worker of the code at `root` (this checkout, or --baseline's)."""
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
        "PYTHONPATH": str(root),
    }
    ensure_topics(settings.model_copy(update={"interactions_topic": env["INTERACTIONS_TOPIC"]}))
    with open(log, "ab") as output:
        worker = subprocess.Popen(
            ["taskset", "-c", "1", sys.executable, "-m", "pipeline.cli", "streams"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
    try:
        deadline = time.monotonic() + 180
        # (time, events in, CPU-seconds) at the first scrape showing progress and at the last
        # one before all was processed: the rate between them is exact, the last scrape's
        # overshoot (up to one interval) left out.
        first: tuple[float, float, float, dict[str, float]] | None = None
        last: tuple[float, float, float, dict[str, float]] | None = None
        spy = None
        while True:  # polling another process's counter: there is nothing to await
            now, done = time.perf_counter(), scrape_events_in(port)
            sample = (now, done, cpu_seconds(worker.pid), thread_cpu(worker.pid))
            if first is None and done > 0:
                first = sample
                spy = profile(worker.pid, 3, profile_to)
            if done >= count:
                assert first is not None
                if spy is not None:
                    spy.wait(30)
                if last is None or last[0] - first[0] < 1.0:
                    last = sample  # too fast for two partial scrapes: the overshoot counts
                events = last[1] - first[1]
                rate, per_cpu = events / (last[0] - first[0]), events / (last[2] - first[2])
                return Result(rate, per_cpu, thread_share(first[3], last[3]))
            if first is not None and done > first[1]:
                last = sample
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker stopped or too slow ({done} events); see {log}")
            # Each scrape renders all of Faust's sensors in the worker's event loop (~10 ms
            # here): ten a second cost it ~10% of its main thread, a Prometheus scraping
            # every 15 s nothing.
            time.sleep(SCRAPE_INTERVAL)
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
    parser.add_argument(
        "--profile", type=Path, help="write py-spy profiles (by thread, raw) of each run here"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="also time the worker of the checkout at this path (e.g. main), in the same runs",
    )
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
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
        plain: list[Result] = []
        faust: list[Result] = []
        baseline: list[Result] = []
        for run in range(args.runs):
            spy = {k: args.profile / f"{k}-{run + 1}.txt" if args.profile else None for k in "pf"}
            plain.append(run_plain(settings, args.events, spy["p"]))
            if args.baseline:
                baseline.append(run_faust(settings, args.events, log, None, args.baseline))
                b = baseline[-1]
                print(
                    f"run {run + 1}: baseline worker {b.rate:,.0f}/s "
                    f"({b.per_cpu_second:,.0f}/CPU-s), CPU by thread: {b.threads}"
                )
            faust.append(run_faust(settings, args.events, log, spy["f"]))
            p, f = plain[-1], faust[-1]
            print(
                f"run {run + 1}: plain {p.rate:,.0f}/s ({p.per_cpu_second:,.0f}/CPU-s), "
                f"faust worker {f.rate:,.0f}/s ({f.per_cpu_second:,.0f}/CPU-s), "
                f"ratio {f.rate / p.rate:.1%} ({f.per_cpu_second / p.per_cpu_second:.1%} per CPU-s)"
            )
            print(f"  CPU by thread: plain {p.threads}; worker {f.threads}")
        print("| path | events/s (median) | events per CPU-second (median) |")
        print("| --- | --- | --- |")
        paths = [("plain confluent loop", plain), ("Faust worker", faust)]
        if baseline:
            paths.append((f"baseline worker ({args.baseline})", baseline))
        for name, results in paths:
            rate = statistics.median(r.rate for r in results)
            per_cpu = statistics.median(r.per_cpu_second for r in results)
            print(f"| {name} | {rate:,.0f} | {per_cpu:,.0f} |")
        ratios = [f.rate / p.rate for p, f in zip(plain, faust, strict=True)]
        per_cpu = [f.per_cpu_second / p.per_cpu_second for p, f in zip(plain, faust, strict=True)]
        print(
            f"ratio, median of the runs: {statistics.median(ratios):.1%} in events/s, "
            f"{statistics.median(per_cpu):.1%} per CPU-second (goal >= 70%)"
        )
        if baseline:
            ratios = [b.rate / p.rate for p, b in zip(plain, baseline, strict=True)]
            print(f"baseline ratio, median of the runs: {statistics.median(ratios):.1%}")
    print(f"load average after: {os.getloadavg()}")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


if __name__ == "__main__":
    main()
