"""End to end: how long an Amplitude event takes from the webhook's 200 to Personalize, and what
each process spends on it, at steady rates.

    .venv/bin/python bench/e2e_bench.py [--rates 1000,2000,5000] [--seconds 60] [--per-post 1]

The whole pipeline as deployed (`devtools.stack.LocalStack`, what `make run` starts): embedded
Apache Kafka, ingest, the streams worker, the Personalize sink and the emulator answering every
PutEvents after `--latency-ms` (default 30: AWS's round trip), all on loopback, none pinned.
This script is the driver: an asyncio (uvloop) aiohttp client with keep-alive connections that
posts by a clock (event n is due at start + n / rate; a late driver catches up and says how
late it was), one event per POST as Amplitude's webhook destination sends it (`--per-post N`
sends N as a JSON array when one event a request costs the driver too much).

The workload: users (15% anonymous, device only) with sessions whose events arrive over
minutes (half the gaps 0.2-3 s, half ~30 s apart), the seed's event mix (schemas/
default_rules.toml, aliases included), impressions with the list of items shown, and ~19% of
events of types outside the rules (filtered, never delivered). Events are in the webhook's
Export format, their `event_time` the moment they are sent.

Latency is measured per event: the driver records each event's 200 (wall clock), the emulator
each PutEvents call's arrival (GET /_emulator/put-events/arrivals), matched by eventId, which
the driver derives with the schemas' own functions (`normalize(...).dedup_key`, `scoped_id`).
CPU per process is utime + stime from /proc over the rate's window (driving, then waiting for
the last events); resident memory is VmRSS at its end; lag is each consumer group's committed
offsets against the log end when the driving stops. Every process it starts dies with it:
`LocalStack` and the broker start theirs with `die_with_parent`, and stop them on the way out.
"""

import argparse
import asyncio
import heapq
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
import uvloop
from confluent_kafka import Consumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.kafka_broker import EmbeddedKafka  # noqa: E402
from devtools.stack import DEV_SECRET, LocalStack, Ports  # noqa: E402
from schemas import load_rules  # noqa: E402
from schemas.amplitude import normalize, scoped_id  # noqa: E402
from sinks.personalize.settings import SinkSettings  # noqa: E402

DEFAULT_SINK_THREADS = SinkSettings.model_fields["sink_threads"].default

SERVICES = ("emulator", "ingest", "streams", "sink")
PROCESSES = ("ingest", "streams", "sink", "broker", "emulator", "driver")
PIPELINE = ("ingest", "streams", "sink", "broker")  # what would run in production

# The seed's rules (with some aliases) and types outside them, by share of events.
MIX = {
    "initial_impression": 24.0,
    "scroll_impression": 12.0,
    "view": 19.0,
    "View": 1.0,
    "click": 11.0,
    "Click": 1.0,
    "upvote": 3.0,
    "share": 1.0,
    "bookmark": 2.0,
    "download": 1.0,
    "comment": 2.0,
    "donate": 0.5,
    "hide": 1.0,
    "not_interested": 0.5,
    "downvote": 1.0,
    "flag_content": 0.2,
    # Outside the rules: counted and dropped by the stream stage.
    "session_start": 5.0,
    "page_view": 6.0,
    "search": 3.0,
    "app_open": 4.8,
}
ITEMS = 50_000


@dataclass
class Session:
    user_id: str | None
    device_id: str
    session_id: int  # Amplitude's: the session's start in ms
    left: int  # events still to come


class Workload:
    """Events of many users' sessions, each session's events spread over minutes."""

    def __init__(self, rate: float, users: int, seed: int) -> None:
        self._rng = random.Random(seed)
        self._users = users
        self._types = list(MIX)
        self._weights = list(MIX.values())
        self._due: list[tuple[float, int, Session]] = []  # (next event's offset, tie, session)
        self._tie = 0
        self._count = 0
        # Sessions already under way when the run starts, so it does not begin with new ones
        # only: about half the first 20 s's events come from them.
        for _ in range(int(rate * 10)):
            self._push(self._rng.uniform(0, 20), self._new_session(time.time() - 60))

    def _new_session(self, now: float) -> Session:
        rng = self._rng
        n = rng.randrange(self._users)
        anonymous = rng.random() < 0.15
        return Session(
            user_id=None if anonymous else f"user-{n}",
            device_id=str(uuid.UUID(int=n + 10**12)),
            session_id=int(now * 1000) - rng.randrange(60_000),
            left=1 + int(rng.expovariate(1 / 11)),  # ~12 events a session
        )

    def _push(self, offset: float, session: Session) -> None:
        self._tie += 1
        heapq.heappush(self._due, (offset, self._tie, session))

    def event(self, offset: float, now: float) -> dict[str, object]:
        """The event due at `offset` seconds into the run (sent at wall time `now`)."""
        rng = self._rng
        if self._due and self._due[0][0] <= offset:
            session = heapq.heappop(self._due)[2]
        else:
            session = self._new_session(now)
        session.left -= 1
        if session.left > 0:
            gap = rng.uniform(0.2, 3.0) if rng.random() < 0.5 else rng.expovariate(1 / 30)
            self._push(offset + gap, session)
        self._count += 1
        event_type = rng.choices(self._types, self._weights)[0]
        item = f"item-{int(ITEMS ** rng.random())}"  # a few items popular, most rare
        properties: dict[str, object] = {"item_id": item, "list_id": "home-feed"}
        if event_type == "initial_impression":
            properties["impression"] = [
                f"item-{int(ITEMS ** rng.random())}" for _ in range(rng.randint(3, 12))
            ]
        if rng.random() < 0.3:
            properties["recommendation_id"] = f"rec-{rng.getrandbits(48):012x}"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}"
        return {
            "server_received_time": stamp,
            "app": 123456,
            "user_id": session.user_id,
            "device_id": session.device_id,
            "uuid": str(uuid.UUID(int=rng.getrandbits(128))),
            "$insert_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "event_time": stamp,  # the send time: the event's own time
            "client_event_time": stamp,
            "event_type": event_type,
            "event_id": self._count,
            "session_id": session.session_id,
            "amplitude_id": 10**11 + hash(session.device_id) % 10**10,
            "platform": "Web",
            "os_name": "Chrome",
            "os_version": "131",
            "device_type": "Mac",
            "country": "Germany",
            "city": "Berlin",
            "language": "German",
            "library": "amplitude-ts/2.11.0",
            "ip_address": "192.0.2.10",
            "user_properties": {"plan": "free", "signup_cohort": "2026-10"},
            "event_properties": properties,
            "groups": {},
            "group_properties": {},
        }


@dataclass
class Drive:
    """What the driver sent: each POST's events (bytes) and when its 200 came."""

    started: float = 0.0  # wall clock
    finished: float = 0.0
    posts: list[tuple[float, list[bytes]]] = field(default_factory=list)  # (200 at, events)
    failed: int = 0  # posts answered other than 200, or not at all (not retried)
    late: list[float] = field(default_factory=list)  # how late each POST went out, s
    answer: list[float] = field(default_factory=list)  # POST to its answer, s


async def drive(
    url: str, rate: float, seconds: float, per_post: int, connections: int, workload: Workload
) -> Drive:
    """POST `rate` events/s for `seconds`, paced by the loop's clock."""
    result = Drive()
    loop = asyncio.get_running_loop()
    # Ctrl-C or SIGTERM while driving: stop sending, let the POSTs out finish, then raise. The
    # loop's own handlers: under asyncio.Runner with uvloop a Ctrl-C went unseen until the end.
    interrupted = asyncio.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        loop.add_signal_handler(sig, interrupted.set)
    try:
        await _send_all(url, rate, seconds, per_post, connections, workload, result, interrupted)
    finally:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)
    if interrupted.is_set():
        raise KeyboardInterrupt
    return result


async def _send_all(
    url: str,
    rate: float,
    seconds: float,
    per_post: int,
    connections: int,
    workload: Workload,
    result: Drive,
    interrupted: asyncio.Event,
) -> None:
    queue: asyncio.Queue[tuple[float, list[bytes]] | None] = asyncio.Queue()
    headers = {"Authorization": f"Bearer {DEV_SECRET}", "Content-Type": "application/json"}
    loop = asyncio.get_running_loop()
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def post() -> None:
            while (item := await queue.get()) is not None:
                due, events = item
                sent_at = loop.time()
                result.late.append(sent_at - due)
                body = events[0] if per_post == 1 else b"[" + b",".join(events) + b"]"
                try:
                    async with session.post(url, data=body) as response:
                        await response.read()
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
                result.answer.append(loop.time() - sent_at)
                if ok:
                    result.posts.append((time.time(), events))
                else:
                    result.failed += 1

        workers = [asyncio.create_task(post()) for _ in range(connections)]
        total = int(rate * seconds) // per_post
        interval = per_post / rate
        start = loop.time()
        result.started = time.time()
        for n in range(total):
            if interrupted.is_set():
                break
            due = start + n * interval
            wait = due - loop.time()
            if wait > 0.001:  # sleep to the deadline; a batch that is due goes out at once
                await asyncio.sleep(wait)
            now = time.time()
            offset = n * interval
            events = [orjson.dumps(workload.event(offset, now)) for _ in range(per_post)]
            queue.put_nowait((due, events))
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        result.finished = time.time()


# --- the processes: CPU and memory from /proc ---


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (the driver's are the services: it counts only itself)."""
    if pid == os.getpid():
        return [pid]
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo.extend(int(child) for child in task.read_text().split())
    return found


def _cpu_ticks(stat: Path) -> int:
    """utime + stime from a /proc .../stat file (after the command name, which may hold spaces)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its descendants, all threads (/proc/PID/stat)."""
    total = sum(_cpu_ticks(Path(f"/proc/{each}/stat")) for each in process_tree(pid))
    return total / os.sysconf("SC_CLK_TCK")


def jit_seconds(pid: int) -> float:
    """utime + stime of a JVM's JIT compiler threads ("C1/C2 CompilerThread<n>"), alive now:
    the broker's warm-up, which a broker that has run for a while no longer pays."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if "CompilerThre" in (task / "comm").read_text():
                total += _cpu_ticks(task / "stat")
        except OSError:  # the thread ended meanwhile
            continue
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    total = 0.0
    for each in process_tree(pid):
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
    return total


def group_lag(bootstrap: str, group: str, topic: str) -> int:
    """Records in `topic` past `group`'s committed offsets (without joining the group)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        committed = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        lag = 0
        for tp in committed:
            low, high = consumer.get_watermark_offsets(tp, timeout=10)
            lag += high - (tp.offset if tp.offset >= 0 else low)
        return lag
    finally:
        consumer.close()


def written_at(bootstrap: str, topic: str) -> dict[str, float]:
    """Each interaction's eventId and its record's timestamp (when the stream stage produced
    it): splits an event's latency into the stages before the topic and the sink after it."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"e2e-bench-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        open_partitions, times = set(partitions), {}
        while open_partitions:
            for message in consumer.consume(10_000, 1.0):
                if message.error():
                    open_partitions.discard(message.partition())
                    continue
                event_id = orjson.loads(message.value())["event_id"]
                times[event_id] = message.timestamp()[1] / 1000
        return times
    finally:
        consumer.close()


def call_seconds(sink_status: str) -> tuple[float, float]:
    """The sink's PutEvents calls so far and their summed duration (its /metrics histogram)."""
    with urllib.request.urlopen(f"{sink_status}/metrics", timeout=10) as response:
        text = response.read().decode()
    totals = {"count": 0.0, "sum": 0.0}
    for family in text_string_to_metric_families(text):
        if family.name == "sink_put_events_duration_seconds":
            for sample in family.samples:
                for name in totals:
                    if sample.name.endswith(f"_{name}"):
                        totals[name] += sample.value
    return totals["count"], totals["sum"]


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=60) as response:
        return orjson.loads(response.read())


# --- one rate ---


@dataclass
class Result:
    rate: float
    per_post: int
    sink_threads: str = ""
    sent: int = 0
    achieved: float = 0.0  # events/s answered 200 over the driving
    failed_posts: int = 0
    late_p99_ms: float = 0.0
    answer_ms: tuple[float, float] = (0.0, 0.0)  # the webhook's answer time, p50 and p99
    expected: int = 0  # sent events of a type in the rules
    delivered: int = 0  # of those, seen at the emulator
    latencies: list[float] = field(default_factory=list)
    to_topic: list[float] = field(default_factory=list)  # from the 200 to the interactions topic
    last_p50: float = 0.0  # p50 of the events sent in the last 10 s: rising means falling behind
    calls: int = 0
    events: int = 0
    calls_per_s: float = 0.0
    lag_streams: int = 0
    lag_sink: int = 0
    drained_s: float = 0.0  # from the last 200 until every expected event had arrived
    cpu: dict[str, float] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)
    broker_jit: float = 0.0  # of the broker's CPU, its JIT compiler threads'
    window: float = 0.0
    call_ms: float = 0.0  # the sink's mean PutEvents call (its histogram), emulator delay included
    driving_cpu: float = 0.0  # the driver's CPU while it drove (its part of the whole window)

    @property
    def kept_up(self) -> bool:
        """Everything arrived within the drain, and no group was 5 s of events behind."""
        behind = max(self.lag_streams, self.lag_sink) < self.rate * 5
        return self.delivered == self.expected and behind


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_rate(
    stack: LocalStack,
    broker: EmbeddedKafka,
    rate: float,
    args: argparse.Namespace,
    seed: int,
) -> Result:
    emulator = f"http://127.0.0.1:{stack.ports.emulator}"
    webhook = f"http://127.0.0.1:{stack.ports.ingest}/webhooks/amplitude"
    rules = load_rules().by_name()
    env = stack.env()
    kafka = stack.kafka
    pids = {**stack.pids(), "broker": broker.pid(), "driver": os.getpid()}
    forget = urllib.request.Request(f"{emulator}/_emulator/put-events", method="DELETE")
    urllib.request.urlopen(forget, timeout=60).close()
    workload = Workload(rate, args.users, seed)
    sink_status = f"http://127.0.0.1:{stack.ports.sink_status}"
    calls_before = call_seconds(sink_status)
    cpu_before = {name: cpu_seconds(pids[name]) for name in PROCESSES}
    jit_before = jit_seconds(pids["broker"])
    wall_before = time.monotonic()
    driver_before = time.process_time()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        sent = runner.run(
            drive(webhook, rate, args.seconds, args.per_post, args.connections, workload)
        )
    result = Result(
        rate=rate, per_post=args.per_post, sink_threads=args.sink_threads, failed_posts=sent.failed
    )
    result.driving_cpu = time.process_time() - driver_before
    # The groups' names of this run (LocalStack names its own on a broker it did not start).
    bootstrap = kafka.kafka_bootstrap_servers
    result.lag_streams = group_lag(bootstrap, env["STREAMS_APP_ID"], kafka.raw_topic)
    result.lag_sink = group_lag(bootstrap, env["SINK_GROUP_ID"], kafka.interactions_topic)
    # Which events should arrive, under which eventId, and when each was answered 200 (the
    # driver's CPU for this is not the driving's: taken out of its share below).
    analysis_before = time.process_time()
    answered: dict[str, float] = {}
    now_ms = int(time.time() * 1000)
    for at, events in sent.posts:
        result.sent += len(events)
        for raw in events:
            event = normalize(raw, now_ms, 86_400_000)
            if event.event_type in rules:
                assert event.dedup_key is not None
                answered[scoped_id(event.dedup_key)] = at
    result.expected = len(answered)
    analysis_cpu = time.process_time() - analysis_before
    result.achieved = result.sent / (sent.finished - sent.started)
    result.late_p99_ms = percentile(sent.late, 0.99) * 1000
    result.answer_ms = (percentile(sent.answer, 0.5) * 1000, percentile(sent.answer, 0.99) * 1000)
    deadline = time.monotonic() + args.drain_seconds
    while True:
        stats = get_json(f"{emulator}/_emulator/stats")
        assert isinstance(stats, dict)
        if stats["distinct_event_ids"] >= result.expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # polling the emulator's counters, with a deadline
    result.drained_s = time.time() - sent.finished
    result.window = time.monotonic() - wall_before
    result.cpu = {name: cpu_seconds(pids[name]) - cpu_before[name] for name in PROCESSES}
    result.broker_jit = jit_seconds(pids["broker"]) - jit_before
    result.cpu["driver"] -= analysis_cpu
    result.rss = {name: rss_mb(pids[name]) for name in PROCESSES}
    calls_after = call_seconds(sink_status)
    if calls_after[0] > calls_before[0]:
        mean = (calls_after[1] - calls_before[1]) / (calls_after[0] - calls_before[0])
        result.call_ms = mean * 1000
    calls = get_json(f"{emulator}/_emulator/put-events")
    arrivals = get_json(f"{emulator}/_emulator/put-events/arrivals")
    assert isinstance(calls, list) and isinstance(arrivals, list)
    arrived: dict[str, float] = {}
    # Both lists only grow, together: read the calls first, and the first len(calls) arrivals
    # are theirs (a call that came in between the two reads is left out).
    arrivals = arrivals[: len(calls)]
    for call, at in zip(calls, arrivals, strict=True):
        for item in call["eventList"]:
            arrived.setdefault(item["eventId"], at)
    result.calls = len(calls)
    result.events = sum(len(call["eventList"]) for call in calls)
    if len(arrivals) > 1:
        result.calls_per_s = len(arrivals) / (max(arrivals) - min(arrivals))
    last = sent.finished - 10
    recent = []
    for event_id, at in answered.items():
        if event_id in arrived:
            result.latencies.append(arrived[event_id] - at)
            if at >= last:
                recent.append(arrived[event_id] - at)
    result.delivered = len(result.latencies)
    written = written_at(bootstrap, kafka.interactions_topic)
    result.to_topic = [written[i] - at for i, at in answered.items() if i in written]
    if args.dump:  # one line per expected event: answered, written, arrived (epoch seconds)
        with open(Path(args.dump) / f"events-{rate:.0f}.csv", "w") as out:
            for i, at in answered.items():
                out.write(f"{at:.4f},{written.get(i, float('nan')):.4f},")
                out.write(f"{arrived.get(i, float('nan')):.4f}\n")
    result.last_p50 = percentile(recent, 0.5)
    return result


# --- the report ---


def machine() -> str:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{model}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def report(results: list[Result], args: argparse.Namespace) -> str:
    lines = [
        f"machine: {machine()}",
        f"emulator latency {args.latency_ms:.0f} ms, {args.seconds:.0f} s a rate, "
        f"{args.connections} connections",
        "",
        "| rate (events/s) | events per POST | SINK_THREADS | achieved | events sent | "
        "delivered / expected | p50 s | p95 s | p99 s | max s | p50, last 10 s | "
        "PutEvents calls/s | events per call | "
        "lag at end (streams / sink) | drained in | kept up |",
        "| " + " | ".join(["---"] * 16) + " |",
    ]
    for r in results:
        q = r.latencies
        lines.append(
            f"| {r.rate:,.0f} | {r.per_post} | {r.sink_threads} | {r.achieved:,.0f} | {r.sent:,} | "
            f"{r.delivered:,} / {r.expected:,}"
            f" | {percentile(q, 0.5):.3f} | {percentile(q, 0.95):.3f} | {percentile(q, 0.99):.3f}"
            f" | {max(q, default=float('nan')):.3f} | {r.last_p50:.3f} | {r.calls_per_s:,.0f} | "
            f"{r.events / max(r.calls, 1):.2f} | {r.lag_streams:,} / {r.lag_sink:,} | "
            f"{r.drained_s:.1f} s | {'yes' if r.kept_up else '**no**'} |"
        )
    lines += [
        "",
        "CPU-seconds per million events sent (and cores used over the window):",
        "",
        "| rate | " + " | ".join(PROCESSES) + " | pipeline (ingest+streams+sink+broker) | all |",
        "| " + " | ".join(["---"] * (len(PROCESSES) + 3)) + " |",
    ]
    for r in results:
        per = {name: r.cpu[name] / r.sent * 1e6 for name in PROCESSES}
        pipeline = sum(per[name] for name in PIPELINE)
        cells = [f"{per[n]:.0f} ({r.cpu[n] / r.window:.2f})" for n in PROCESSES]
        lines.append(
            f"| {r.rate:,.0f} | " + " | ".join(cells) + f" | {pipeline:.0f} "
            f"(sink {per['sink'] / pipeline:.0%}) | {sum(per.values()):.0f} |"
        )
    lines += [
        "",
        "Resident memory at the end of each rate, MB:",
        "",
        "| rate | " + " | ".join(PROCESSES) + " |",
        "| " + " | ".join(["---"] * (len(PROCESSES) + 1)) + " |",
    ]
    for r in results:
        lines.append(
            f"| {r.rate:,.0f} | " + " | ".join(f"{r.rss[n]:.0f}" for n in PROCESSES) + " |"
        )
    lines.append("")
    lines.append(
        "driver: failed POSTs "
        + ", ".join(f"{r.failed_posts}" for r in results)
        + "; p99 of how late a POST went out, ms: "
        + ", ".join(f"{r.late_p99_ms:.1f}" for r in results)
        + "; webhook answer p50 / p99, ms: "
        + ", ".join(f"{r.answer_ms[0]:.1f} / {r.answer_ms[1]:.1f}" for r in results)
        + "; the sink's mean PutEvents call, ms: "
        + ", ".join(f"{r.call_ms:.1f}" for r in results)
        + "; the sink's CPU per PutEvents call, us: "
        + ", ".join(f"{r.cpu['sink'] / max(r.calls, 1) * 1e6:.0f}" for r in results)
        + "; CPU while driving, us per POST: "
        + ", ".join(f"{r.driving_cpu / (r.sent / r.per_post) * 1e6:.0f}" for r in results)
    )
    lines.append(
        "of the broker's CPU, its JIT compiler threads' (warm-up), CPU-s per million events: "
        + ", ".join(f"{r.broker_jit / r.sent * 1e6:.0f}" for r in results)
    )
    lines.append(
        "from the 200 to the interactions topic (ingest, broker, streams), p50 / p99, s: "
        + ", ".join(
            f"{percentile(r.to_topic, 0.5):.3f} / {percentile(r.to_topic, 0.99):.3f}"
            for r in results
        )
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rates", default="1000,2000,5000", help="events/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=60.0, help="driving time per rate")
    parser.add_argument(
        "--per-post", default="1", help="events per POST: one for all rates, or one per rate"
    )
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--latency-ms", type=float, default=30.0, help="the emulator's delay")
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument(
        "--sink-threads",
        default="",
        help="SINK_THREADS (default: the sink's own): one for all rates, or one per rate",
    )
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        default=20.0,
        help="untimed, before each rate: the broker's JIT compilation, connections, assignments",
    )
    parser.add_argument(
        "--warmup-rate", type=float, default=0.0, help="events/s of the warm-up (0: the rate's)"
    )
    parser.add_argument(
        "--drain-seconds", type=float, default=20.0, help="longest wait for the last events"
    )
    parser.add_argument(
        "--dump", default="", help="a folder: write each event's times there, one CSV a rate"
    )
    args = parser.parse_args()
    rates = [float(rate) for rate in args.rates.split(",")]
    per_post = [int(n) for n in args.per_post.split(",")]
    per_post = per_post * len(rates) if len(per_post) == 1 else per_post
    if len(per_post) != len(rates):
        parser.error("--per-post: one value, or one per rate")
    threads = args.sink_threads.split(",") if args.sink_threads else [""]
    threads = threads * len(rates) if len(threads) == 1 else threads
    if len(threads) != len(rates):
        parser.error("--sink-threads: one value, or one per rate")

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # Ctrl-C raises KeyboardInterrupt already
    log_dir = Path(tempfile.mkdtemp(prefix="e2e-bench-"))
    print(f"load before: {load()}", flush=True)
    broker = EmbeddedKafka()
    stack: LocalStack | None = None
    try:
        broker.start()
        results = []
        for n, (rate, size, sink_threads) in enumerate(
            zip(rates, per_post, threads, strict=True), start=1
        ):
            # Each rate gets services of its own: on a broker it did not start, LocalStack names
            # topics and groups of its own, so no backlog of the rate before is carried over.
            stack = LocalStack(
                ports=Ports.free(),
                bootstrap=broker.bootstrap_servers,
                services=SERVICES,
                log_dir=log_dir / f"rate-{rate:.0f}",
                extra_env={
                    "EMULATOR_LATENCY_MS": str(args.latency_ms),
                    "LOG_LEVEL": "WARNING",
                    **({"SINK_THREADS": sink_threads} if sink_threads else {}),
                },
            )
            stack.start()
            this = argparse.Namespace(**{**vars(args), "per_post": size})
            this.sink_threads = sink_threads or f"{DEFAULT_SINK_THREADS} (default)"
            if args.warmup_seconds > 0:
                # Not timed: connections, assignments, and the broker's JIT compilation, which
                # takes a third of a core for the first minute of load (bench/README.md).
                warm = argparse.Namespace(
                    **{**vars(this), "seconds": args.warmup_seconds, "dump": ""}
                )
                run_rate(stack, broker, args.warmup_rate or rate, warm, seed=0)
            results.append(run_rate(stack, broker, rate, this, seed=n))
            stack.check_alive()
            stack.stop()
            stack = None
            print(f"rate {rate:,.0f} done; load: {load()}", flush=True)
        print(report(results, args))
        print(f"logs: {log_dir}")
    except KeyboardInterrupt:
        print("interrupted: stopping everything", flush=True)
        raise SystemExit(130) from None
    finally:
        if stack is not None:
            stack.stop()
        broker.stop()


if __name__ == "__main__":
    main()
