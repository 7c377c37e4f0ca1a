"""Quota benchmark: delivered events/s at a fixed PutEvents calls/s limit, fixed vs quota-aware
batching (SINK_BATCHING), interleaved in one run, and their latency well under the limit.

The workload streams as users would: sessions of 5-25 events whose events arrive an
exponential gap apart (4 s on average), so a session's events span about a minute; sessions
start at random phases so the rate is steady from the first second. The script produces
them at a steady offered rate (each event carries its send time as `timestamp_ms`, the
PutEvents `sentAt`), the sink runs as deployed (`pipeline sink`, pinned to core 0) against the
emulator (core 1, with the broker and this script). Per run: a fresh topic and group.

- At the limit (`--rate`, above what fixed batching can deliver): delivered events/s, calls/s
  and events per call at the emulator over the steady window (after `--warm-up`), and the
  sink's CPU per call.
- Under the limit (`--low-rate`): latency from the produce to the call's arrival at the
  emulator (read back every 50 ms, so +-50 ms), p50/p95/p99/max.

    .venv/bin/python bench/quota_bench.py [--rate 4000] [--low-rate 300] [--rounds 2]

Holding a session's events until a call can go costs memory and re-reads: at the limit a group
waits about (active sessions / calls/s) seconds, so the sink holds offered rate x that wait
events. Both modes run with the same SINK_MAX_PENDING_EVENTS and SINK_MAX_UNCOMMITTED_EVENTS,
raised here (`--max-pending`, `--max-uncommitted`) above that need; with the defaults
(20,000 and 2,000) back-pressure caps how long a group can linger.
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson
from confluent_kafka import Producer
from sink_bench import cpu_seconds, get_json, wait_for

from core.kafka import ensure_topics
from core.settings import KafkaSettings
from devtools.kafka_broker import EmbeddedKafka, free_port
from devtools.stack import answers_ok

SINK_CORE, OTHER_CORE = "0", "1"
MEAN_GAP_SECONDS = 4.0
SESSION_EVENTS = (5, 25)


def schedule(rate: float, duration: float, seed: int) -> list[tuple[float, int, int]]:
    """(time, session, event number) for a steady `rate` over `duration` seconds."""
    rng = random.Random(seed)
    mean_events = sum(SESSION_EVENTS) / 2
    span = mean_events * MEAN_GAP_SECONDS * 2  # sessions started before 0 are under way at 0
    starts = rate / mean_events * (duration + span)
    events: list[tuple[float, int, int]] = []
    for session in range(int(starts)):
        t = rng.uniform(-span, duration)
        for n in range(rng.randint(*SESSION_EVENTS)):
            if 0 <= t < duration:
                events.append((t, session, n))
            t += rng.expovariate(1 / MEAN_GAP_SECONDS)
    events.sort()
    return events


def interaction(session: int, n: int, now_ms: int, seed: int) -> tuple[bytes, bytes]:
    user = f"user-{seed}-{session}"
    return user.encode(), orjson.dumps(
        {
            "schema_version": 1,
            "event_id": f"{seed}:{session}:{n}",
            "user_id": user,
            "device_id": None,
            "session_id": f"{user}:s",
            "item_id": f"item-{(session * 31 + n) % 50_000}",
            "event_type": "content_viewed",
            "personalize_event_type": "view",
            "weight": 1.0,
            "timestamp_ms": now_ms,
            "impression": [],
            "recommendation_id": None,
            "insert_id": f"{seed}-{session}-{n}",
        }
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=4000.0, help="offered events/s at the limit")
    parser.add_argument("--low-rate", type=float, default=300.0, help="events/s for latency")
    parser.add_argument("--duration", type=float, default=45.0)
    parser.add_argument("--low-duration", type=float, default=25.0)
    parser.add_argument("--warm-up", type=float, default=15.0)
    parser.add_argument("--rate-limit", type=float, default=1000.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--max-pending", type=int, default=100_000, help="both modes alike")
    parser.add_argument("--max-uncommitted", type=int, default=25_000, help="both modes alike")
    args = parser.parse_args()
    pin = shutil.which("taskset")
    log_dir = Path(tempfile.mkdtemp(prefix="quota-bench-"))
    results: list[dict[str, object]] = []
    with EmbeddedKafka() as broker:
        emulator_port = free_port()
        emulator_url = f"http://127.0.0.1:{emulator_port}"
        base_env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "EMULATOR_PORT": str(emulator_port),
            "AWS_PERSONALIZE_TRACKING_ID": "bench-tracker",
            "PERSONALIZE_ENDPOINT_URL": emulator_url,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "SINK_RATE_LIMIT_CALLS_PER_SECOND": str(args.rate_limit),
            "SINK_THREADS": str(args.threads),
            "SINK_MAX_PENDING_EVENTS": str(args.max_pending),
            "SINK_MAX_UNCOMMITTED_EVENTS": str(args.max_uncommitted),
            "LOG_LEVEL": "WARNING",
        }

        def spawn(command: str, core: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
            prefix = [pin, "-c", core] if pin else []
            with open(log_dir / f"{command}-{env.get('SINK_GROUP_ID', '')}.log", "wb") as log:
                return subprocess.Popen(
                    [*prefix, sys.executable, "-m", "pipeline.cli", command],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )

        if pin:
            os.sched_setaffinity(0, {int(OTHER_CORE)})
            broker.pin({int(OTHER_CORE)})
        emulator = spawn("emulator", OTHER_CORE, base_env)
        producer = Producer(
            {"bootstrap.servers": broker.bootstrap_servers, "linger.ms": 5, "acks": "all"}
        )
        try:
            wait_for(lambda: answers_ok(f"{emulator_url}/healthz"), 30, "emulator")
            plan = [("limit", mode) for _ in range(args.rounds) for mode in ("fixed", "quota")]
            plan += [("low", mode) for _ in range(args.rounds) for mode in ("fixed", "quota")]
            for number, (kind, mode) in enumerate(plan):
                topic = f"interactions.q{number}"
                settings = KafkaSettings(
                    kafka_bootstrap_servers=broker.bootstrap_servers,
                    topic_partitions=args.partitions,
                    interactions_topic=topic,
                    interactions_dead_letter_topic=f"{topic}.dlq",
                )
                ensure_topics(settings)
                status_port = free_port()
                env = {
                    **base_env,
                    "SINK_BATCHING": mode,
                    "SINK_GROUP_ID": f"bench-{number}",
                    "INTERACTIONS_TOPIC": topic,
                    "INTERACTIONS_DEAD_LETTER_TOPIC": f"{topic}.dlq",
                    "SINK_STATUS_PORT": str(status_port),
                }
                request = urllib.request.Request(f"{emulator_url}/_emulator/put-events", b"")
                request.method = "DELETE"
                urllib.request.urlopen(request, timeout=5).close()
                sink = spawn("sink", SINK_CORE, env)
                try:
                    wait_for(
                        lambda port=status_port: answers_ok(f"http://127.0.0.1:{port}/readyz"),
                        60,
                        "sink ready",
                    )
                    rate = args.rate if kind == "limit" else args.low_rate
                    duration = args.duration if kind == "limit" else args.low_duration
                    result = drive(
                        producer,
                        topic,
                        schedule(rate, duration, number),
                        number,
                        emulator_url,
                        kind,
                        args.warm_up,
                        sink.pid,
                    )
                finally:
                    sink.terminate()
                    sink.wait(60)
                result.update(kind=kind, mode=mode, rate=rate)
                results.append(result)
                print(format_row(result), flush=True)
        finally:
            emulator.terminate()
            emulator.wait(30)
    summarize(results, args)
    print(f"logs {log_dir}")


def drive(
    producer: Producer,
    topic: str,
    events: list[tuple[float, int, int]],
    seed: int,
    emulator_url: str,
    kind: str,
    warm_up: float,
    sink_pid: int,
) -> dict[str, object]:
    """Produce `events` on their schedule; measure throughput (`limit`) or latency (`low`)."""
    latencies: list[float] = []
    samples: list[tuple[float, int, int, float]] = []  # (time, calls, events, sink CPU)
    duration = events[-1][0]
    started = time.monotonic()
    next_look = started
    index = 0
    while index < len(events):
        now = time.monotonic() - started
        now_ms = int(time.time() * 1000)
        while index < len(events) and events[index][0] <= now:
            _, session, n = events[index]
            key, value = interaction(session, n, now_ms, seed)
            while True:
                try:
                    producer.produce(topic, value, key)
                    break
                except BufferError:
                    producer.poll(0.01)
            index += 1
        producer.poll(0)
        if time.monotonic() >= next_look:
            next_look += 0.05 if kind == "low" else 1.0
            if kind == "low":
                latencies += read_latencies(emulator_url)
            else:
                stats = get_json(f"{emulator_url}/_emulator/stats")
                samples.append((now, stats["calls"], stats["events"], cpu_seconds(sink_pid)))
        time.sleep(0.002)  # pacing the offered rate
    producer.flush(30)
    result: dict[str, object] = {"produced": len(events), "duration": duration}
    if kind == "low":
        settle = time.monotonic() + 5
        while time.monotonic() < settle:
            latencies += read_latencies(emulator_url)
            time.sleep(0.05)  # the last lingering groups arrive
        result.update(
            latency_events=len(latencies),
            p50=percentile(latencies, 0.5),
            p95=percentile(latencies, 0.95),
            p99=percentile(latencies, 0.99),
            max=max(latencies),
            mean=statistics.fmean(latencies),
        )
        return result
    window = [s for s in samples if s[0] >= warm_up]
    first, last = window[0], window[-1]
    span = last[0] - first[0]
    calls, delivered = last[1] - first[1], last[2] - first[2]
    result.update(
        events_per_s=delivered / span,
        calls_per_s=calls / span,
        events_per_call=delivered / calls,
        cpu_per_call_us=(last[3] - first[3]) / calls * 1e6,
        offered_per_s=sum(1 for e in events if first[0] <= e[0] < last[0]) / span,
        behind=len(events) - last[2],
    )
    return result


def read_latencies(emulator_url: str) -> list[float]:
    """Seconds from each event's send time to now, for the calls accepted since the last read
    (read, then forget them: a call landing between the two is lost, not mis-timed)."""
    with urllib.request.urlopen(f"{emulator_url}/_emulator/put-events", timeout=5) as response:
        bodies = orjson.loads(response.read())
    request = urllib.request.Request(f"{emulator_url}/_emulator/put-events", b"")
    request.method = "DELETE"
    urllib.request.urlopen(request, timeout=5).close()
    now = time.time()
    return [now - float(e["sentAt"]) for body in bodies for e in body["eventList"]]


def format_row(r: dict[str, object]) -> str:
    if r["kind"] == "low":
        return (
            f"{r['mode']:5} {r['rate']:6.0f} ev/s offered: latency p50 {r['p50']:.2f} s, p95 "
            f"{r['p95']:.2f}, p99 {r['p99']:.2f}, max {r['max']:.2f} ({r['latency_events']} events)"
        )
    return (
        f"{r['mode']:5} {r['rate']:6.0f} ev/s offered ({r['offered_per_s']:.0f} in the window): "
        f"delivered {r['events_per_s']:.0f} ev/s, {r['calls_per_s']:.0f} calls/s, "
        f"{r['events_per_call']:.2f} ev/call, sink CPU {r['cpu_per_call_us']:.0f} us/call, "
        f"behind {r['behind']} at the end"
    )


def summarize(results: list[dict[str, object]], args: argparse.Namespace) -> None:
    def mean(kind: str, mode: str, key: str) -> float:
        return statistics.fmean(
            float(r[key])
            for r in results
            if r["kind"] == kind and r["mode"] == mode  # type: ignore[arg-type]
        )

    fixed, quota = mean("limit", "fixed", "events_per_s"), mean("limit", "quota", "events_per_s")
    print(f"at {args.rate_limit:.0f} calls/s: quota / fixed delivered events/s {quota / fixed:.2f}")
    for key in ("p50", "p99"):
        print(
            f"at {args.low_rate:.0f} ev/s: {key} fixed {mean('low', 'fixed', key):.2f} s, "
            f"quota {mean('low', 'quota', key):.2f} s"
        )


if __name__ == "__main__":
    main()
