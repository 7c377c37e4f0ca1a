"""Sink benchmark: interactions topic -> the Personalize sink -> the emulator over HTTP.

The mix is what the issue calls realistic: many users, the topic keyed by user, ~3 events per
user session arriving within a linger window. The sink runs as deployed (`pipeline sink`, a
child process) pinned to one core; the broker, the emulator and this script share the other.
Measured: PutEvents calls/s (first to last accepted call), events per call, and the sink
process's CPU time (utime + stime from /proc) per delivered event, with the rate limit at
1,000 calls/s.

    .venv/bin/python bench/sink_bench.py [--sessions 20000] [--events-per-session 3]
                                         [--client lean|boto3]

`--profile FILE` records the sink with py-spy (not a project dependency: `pip install py-spy`).
"""

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import orjson
from confluent_kafka import Producer

from core.kafka import ensure_topics
from core.settings import KafkaSettings
from devtools.kafka_broker import EmbeddedKafka, free_port
from devtools.stack import answers_ok

SINK_CORE, OTHER_CORE = "0", "1"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc."""
    return sum(user_system(pid))


def user_system(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def per_thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds by thread: the main thread runs the poll loop; Python's other threads are
    the PutEvents pool (and the status server); librdkafka's threads are native."""
    totals: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        name = (task / "comm").read_text().strip()
        if task.name == str(pid):
            name = "poll loop"
        elif name.startswith(("python", "put-events")):
            name = "pool + status"
        totals[name] = totals.get(name, 0.0) + cpu_seconds_of(task / "stat")
    return totals


def cpu_seconds_of(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def context_switches(pid: int) -> int:
    """Voluntary + involuntary context switches of all of a process's threads: its wake-ups."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if "ctxt_switches:" in line:
                total += int(line.split()[1])
    return total


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return dict(orjson.loads(response.read()))


def wait_for(condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)  # polling another process's answer, with a deadline
    return result


def interactions(sessions: int, per_session: int, users: int) -> list[tuple[bytes, bytes]]:
    """Sessions of `per_session` events, interleaved as many users acting at once would be."""
    rng = random.Random(7)
    records: list[tuple[bytes, bytes]] = []
    open_sessions: list[list[tuple[bytes, bytes]]] = []
    for s in range(sessions):
        user = f"user-{rng.randrange(users)}"
        session = f"{user}:{s}"
        open_sessions.append(
            [
                (
                    user.encode(),
                    orjson.dumps(
                        {
                            "schema_version": 1,
                            "event_id": f"{session}:{n}",
                            "user_id": user,
                            "device_id": None,
                            "session_id": session,
                            "item_id": f"item-{rng.randrange(50_000)}",
                            "event_type": "content_viewed",
                            "personalize_event_type": "view",
                            "weight": 1.0,
                            "timestamp_ms": 1_764_000_000_000 + s * 10 + n,
                            "impression": [],
                            "recommendation_id": None,
                            "insert_id": str(uuid.UUID(int=rng.getrandbits(128))),
                        }
                    ),
                )
                for n in range(per_session)
            ]
        )
        # Interleave: draw the next event from one of the ~200 sessions open at the moment.
        while len(open_sessions) > 200 or (s == sessions - 1 and open_sessions):
            pick = rng.randrange(len(open_sessions))
            records.append(open_sessions[pick].pop(0))
            if not open_sessions[pick]:
                open_sessions.pop(pick)
    return records


def botocore_anchor(
    url: str, threads: int, events: int, lean: bool = False, calls: int = 3000
) -> float:
    """CPU of bare boto3 put_events (same config, same emulator, same event count) on the
    sink's core: the building block the sink's cost is compared with. `lean`: the same calls
    through the sink's lean sender (sinks/personalize/put_events_http.py), unthrottled."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    import boto3
    from botocore.config import Config

    client = boto3.client(
        "personalize-events",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": 3},
            max_pool_connections=threads,
            parameter_validation=False,
        ),
    )
    sender = client
    if lean:
        from botocore.credentials import Credentials

        from sinks.personalize.put_events_http import LeanPutEvents
        from sinks.personalize.rate_limit import RateLimiter

        sender = LeanPutEvents(client, Credentials("bench", "bench"), RateLimiter(1e9), 3)
    sent_at = datetime.now(UTC)
    event_list = [
        {
            "eventId": f"anchor-{n}",
            "eventType": "view",
            "eventValue": 1.0,
            "itemId": "item-1",
            "sentAt": sent_at,
        }
        for n in range(events)
    ]

    def work(count: int) -> None:
        for _ in range(count):
            sender.put_events(
                trackingId="bench-tracker", userId="u", sessionId="s", eventList=event_list
            )

    work(50)  # warm the connection pool
    before = time.process_time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, [calls // threads] * threads))
    return (time.process_time() - before) / (calls // threads * threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--events-per-session", type=int, default=3)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rate-limit", type=float, default=1000.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--client", choices=("lean", "boto3"), default="lean")
    parser.add_argument("--profile", help="record the sink with py-spy into this file (raw)")
    args = parser.parse_args()
    pin = shutil.which("taskset")

    records = interactions(args.sessions, args.events_per_session, args.users)
    total = len(records)
    log_dir = Path(tempfile.mkdtemp(prefix="sink-bench-"))
    with EmbeddedKafka() as broker:
        settings = KafkaSettings(
            kafka_bootstrap_servers=broker.bootstrap_servers, topic_partitions=args.partitions
        )
        ensure_topics(settings)
        emulator_port, status_port = free_port(), free_port()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "EMULATOR_PORT": str(emulator_port),
            "AWS_PERSONALIZE_TRACKING_ID": "bench-tracker",
            "PERSONALIZE_ENDPOINT_URL": f"http://127.0.0.1:{emulator_port}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "SINK_STATUS_PORT": str(status_port),
            "SINK_RATE_LIMIT_CALLS_PER_SECOND": str(args.rate_limit),
            "SINK_THREADS": str(args.threads),
            "SINK_PUT_EVENTS_CLIENT": args.client,
            "LOG_LEVEL": "WARNING",
        }

        def spawn(command: str, core: str) -> subprocess.Popen[bytes]:
            prefix = [pin, "-c", core] if pin else []
            if command == "sink" and args.profile:
                spy = str(Path(sys.executable).parent / "py-spy")
                prefix += [
                    spy,
                    "record",
                    "--gil",
                    "-r",
                    "200",
                    "-f",
                    "raw",
                    "-o",
                    args.profile,
                    "--",
                ]
            with open(log_dir / f"{command}.log", "wb") as log:
                return subprocess.Popen(
                    [*prefix, sys.executable, "-m", "pipeline.cli", command],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )

        if pin:
            os.sched_setaffinity(0, {int(OTHER_CORE)})
            broker.pin({int(OTHER_CORE)})
        emulator = spawn("emulator", OTHER_CORE)
        sink = spawn("sink", SINK_CORE)

        def stop_sink() -> None:
            # py-spy writes its profile on SIGINT (and stops the sink); the sink itself: SIGTERM.
            sink.send_signal(signal.SIGINT if args.profile else signal.SIGTERM)
            sink.wait(60)

        try:
            emulator_url = f"http://127.0.0.1:{emulator_port}"
            wait_for(lambda: answers_ok(f"{emulator_url}/healthz"), 30, "emulator")
            wait_for(lambda: answers_ok(f"http://127.0.0.1:{status_port}/readyz"), 60, "sink ready")
            sink_pid = sink.pid
            if args.profile:  # py-spy's child is the sink
                children = Path(f"/proc/{sink.pid}/task/{sink.pid}/children").read_text().split()
                sink_pid = int(children[0])
            cpu_before = cpu_seconds(sink_pid)
            threads_before = per_thread_cpu(sink_pid)
            switches_before = context_switches(sink_pid)
            user_before, system_before = user_system(sink_pid)
            emulator_cpu_before = cpu_seconds(emulator.pid)
            producer = Producer(
                {"bootstrap.servers": broker.bootstrap_servers, "linger.ms": 5, "acks": "all"}
            )
            for key, value in records:
                producer.produce(settings.interactions_topic, value, key)
                producer.poll(0)
            assert producer.flush(60) == 0
            started = time.monotonic()
            first_call: float | None = None
            marks: dict[str, tuple[float, int]] = {}  # 10% and 90% of the events: steady rate
            while True:
                stats = get_json(f"{emulator_url}/_emulator/stats")
                now = time.monotonic()
                if first_call is None and stats["calls"] > 0:
                    first_call = now
                for name, share in (("low", 0.1), ("high", 0.9)):
                    if name not in marks and stats["events"] >= share * total:
                        marks[name] = (now, stats["calls"])
                if stats["distinct_event_ids"] >= total:
                    break
                if now - started > 600:
                    raise TimeoutError(f"only {stats['distinct_event_ids']}/{total} delivered")
                time.sleep(0.05)  # polling the emulator's counters
            finished = time.monotonic()
            cpu = cpu_seconds(sink_pid) - cpu_before
            switches = context_switches(sink_pid) - switches_before
            user_after, system_after = user_system(sink_pid)
            user, system = user_after - user_before, system_after - system_before
            emulator_cpu = cpu_seconds(emulator.pid) - emulator_cpu_before
            threads = {
                name: cpu_s - threads_before.get(name, 0.0)
                for name, cpu_s in per_thread_cpu(sink_pid).items()
            }
            stop_sink()
            if pin:
                os.sched_setaffinity(0, {int(SINK_CORE)})
            per_call = max(1, round(stats["events"] / stats["calls"]))
            anchor = botocore_anchor(emulator_url, args.threads, per_call)
            lean_anchor = botocore_anchor(emulator_url, args.threads, per_call, lean=True)
        finally:
            if sink.poll() is None:
                stop_sink()
            emulator.terminate()
            emulator.wait(30)

    calls, events = stats["calls"], stats["events"]
    span = finished - (first_call or started)
    print(f"events produced          {total}")
    print(f"sessions x events        {args.sessions} x {args.events_per_session}")
    print(f"PutEvents calls          {calls}  (re-sent events {stats['resent_events']})")
    print(f"events per call          {events / calls:.2f}")
    steady = (marks["high"][1] - marks["low"][1]) / (marks["high"][0] - marks["low"][0])
    print(f"calls/s                  {calls / span:.0f}  (rate limit {args.rate_limit:.0f})")
    print(f"calls/s, 10%-90% events  {steady:.0f}  (without start-up and the last linger)")
    print(f"events/s                 {events / span:.0f}")
    print(f"sink CPU                 {cpu:.2f} s over {span:.2f} s ({cpu / span:.0%} of a core)")
    print(f"sink CPU user / system   {user:.2f} s / {system:.2f} s")
    print(f"sink CPU per event       {cpu / events * 1e6:.0f} us")
    print(f"sink CPU per call        {cpu / calls * 1e6:.0f} us")
    print(f"context switches / call  {switches / calls:.1f}  (all the sink's threads)")
    own = cpu / calls - (anchor if args.client == "boto3" else lean_anchor)
    print(
        f"bare boto3 put_events   {anchor * 1e6:.0f} us CPU per call ({args.threads} threads, "
        "same emulator and core)"
    )
    print(
        f"bare lean put_events    {lean_anchor * 1e6:.0f} us CPU per call (same): the sink's "
        f"other work is {own * 1e6:.0f} us per call with SINK_PUT_EVENTS_CLIENT={args.client}"
    )
    print(f"emulator CPU             {emulator_cpu:.2f} s ({emulator_cpu / span:.0%} of a core)")
    busiest = sorted(threads.items(), key=lambda pair: -pair[1])[:6]
    print("sink threads (CPU s)     " + ", ".join(f"{n} {c:.2f}" for n, c in busiest))
    print(
        "sink threads per call    "
        + ", ".join(f"{n} {c / calls * 1e6:.0f} us" for n, c in busiest if c / calls > 1e-6)
    )
    print(f"pinned                   {'sink on core 0, rest on core 1' if pin else 'no taskset'}")
    print(f"logs                     {log_dir}")


if __name__ == "__main__":
    main()
