"""Ingest throughput and latency against the bare shim, measured in the same run.

    .venv/bin/python bench/ingest_bench.py [--seconds 10] [--runs 3]

Layout on a 2-core machine: the service under test (ingest, or the bare shim) is pinned to
core 0 with `taskset`; the embedded Apache Kafka and the load generator (`wrk`, one thread,
8 connections; `apt-get install wrk`) share core 1. Each scenario posts the same body over and
over: 100 events a request, then 1 event a request, each event a ~634-byte Amplitude-like
object like the anchors' in bench/README.md. Every 200 means Kafka acknowledged the events
(acks=all, idempotent producer). Prints a Markdown table: medians of `--runs` runs each.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.kafka import ensure_topics  # noqa: E402
from core.settings import KafkaSettings  # noqa: E402
from devtools.kafka_broker import EmbeddedKafka, free_port  # noqa: E402
from devtools.stack import answers_ok  # noqa: E402

SECRET = "bench-secret-0123456789abcdef0123456789"  # 32+ characters: a process refuses less
SERVICE_CORE, PEER_CORE = 0, 1
CONNECTIONS = 8

_LUA = """
local f = io.open("{body}", "rb")
wrk.method = "POST"
wrk.body = f:read("*all")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {secret}"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT %d %d %d %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


def event(n: int) -> dict[str, object]:
    """An Amplitude-like event of about 634 bytes, like the anchors' (bench/README.md)."""
    return {
        "event_type": "click",
        "user_id": f"user-{n % 997:06d}",
        "device_id": f"device-{uuid.UUID(int=n).hex}",
        "insert_id": str(uuid.UUID(int=n + 10**9)),
        "time": 1_764_000_000_000 + n,
        "session_id": 1_764_000_000_000,
        "event_id": n,
        "platform": "Web",
        "os_name": "Chrome",
        "os_version": "131",
        "country": "Germany",
        "city": "Berlin",
        "language": "German",
        "app_version": "3.14.2",
        "ip_address": "192.0.2.10",
        "library": "amplitude-ts/2.11.0",
        "event_properties": {
            "item_id": f"item-{n % 5000:05d}",
            "list_id": "home-feed",
            "position": n % 20,
            "recommendation_id": "rec-0f8e3c6a9b",
        },
        "user_properties": {"plan": "free", "signup_cohort": "2026-10", "beta": False},
        "uuid": str(uuid.UUID(int=n + 2 * 10**9)),
    }


@dataclass
class Run:
    requests_per_s: float
    events_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    cpu_s: float = 0.0  # CPU the service process used during the run (all its threads)

    @property
    def events_per_cpu_s(self) -> float:
        """Events per second of the service's own CPU: what one uncontended core would carry."""
        return self.events_per_s * self.duration_s / self.cpu_s if self.cpu_s else 0.0

    duration_s: float = 0.0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all threads included (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(pid: int, url: str, body: Path, seconds: int, events: int) -> Run:
    before = cpu_seconds(pid)
    run = wrk(url, body, seconds, events)
    run.cpu_s = cpu_seconds(pid) - before
    return run


def wrk(url: str, body: Path, seconds: int, events: int) -> Run:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_LUA.format(body=body, secret=SECRET))
    try:
        out = subprocess.run(
            [
                *("taskset", "-c", str(PEER_CORE), "wrk", "-t1", f"-c{CONNECTIONS}"),
                *(f"-d{seconds}s", "--latency", "-s", script.name, url),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    line = next(line for line in out.splitlines() if line.startswith("RESULT"))
    requests, duration_us, p50, p99, non_2xx, errors = map(int, line.split()[1:])
    rate = requests / (duration_us / 1e6)
    return Run(
        rate, rate * events, p50 / 1000, p99 / 1000, non_2xx, errors, duration_s=duration_us / 1e6
    )


def start(command: list[str], env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["taskset", "-c", str(SERVICE_CORE), sys.executable, *command],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while not answers_ok(f"http://127.0.0.1:{port}/readyz"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{command} did not start; see {log}")
        time.sleep(0.1)  # polling a condition, with a deadline
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured run")
    parser.add_argument("--runs", type=int, default=3, help="runs per scenario (median)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("needs wrk: apt-get install wrk")
    # The broker and wrk inherit core 1 from this process; services are pinned to core 0.
    os.sched_setaffinity(0, {PEER_CORE})
    workdir = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    bodies = {}
    for size in (100, 1):
        path = workdir / f"body-{size}.json"
        path.write_bytes(orjson.dumps({"events": [event(n) for n in range(size)]}))
        bodies[size] = path
    event_bytes = len(orjson.dumps(event(1)))

    results: dict[tuple[str, int], list[Run]] = {}
    with EmbeddedKafka() as broker:
        kafka = KafkaSettings(kafka_bootstrap_servers=broker.bootstrap_servers)
        ensure_topics(kafka)
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "AMPLITUDE_WEBHOOK_SECRET": SECRET,
            "LOG_LEVEL": "WARNING",
        }
        targets = {
            "bare shim": lambda port: ["bench/bare_shim.py", str(port)],
            "ingest": lambda port: ["-m", "pipeline.cli", "ingest"],
        }
        for size, body in bodies.items():
            # Both services run side by side (both on core 0; the idle one costs nothing) and
            # are measured in alternation, so both see the same background load.
            processes, urls = {}, {}
            try:
                for name, command in targets.items():
                    port = free_port()
                    # ingest answers /readyz on its internal port; the shim on its only one.
                    svc_env = {**env, "INGEST_PORT": str(port)}
                    ready = port
                    if name == "ingest":
                        ready = free_port()
                        svc_env["INGEST_INTERNAL_PORT"] = str(ready)
                    processes[name] = start(command(port), svc_env, ready, workdir / "svc.log")
                    urls[name] = f"http://127.0.0.1:{port}/webhooks/amplitude"
                    wrk(urls[name], body, 2, size)  # warm-up
                for run in range(args.runs):
                    order = list(targets) if run % 2 == 0 else list(reversed(targets))
                    for name in order:
                        result = measure(processes[name].pid, urls[name], body, args.seconds, size)
                        results.setdefault((name, size), []).append(result)
                        print(f"{name} {size}/request: {result}", file=sys.stderr)
            finally:
                for process in processes.values():
                    process.terminate()
                    process.wait(30)

    def median(name: str, size: int, field: str) -> float:
        return statistics.median(getattr(run, field) for run in results[(name, size)])

    print(f"\nevent: {event_bytes} bytes; wrk -t1 -c{CONNECTIONS}; {args.runs} x {args.seconds}s")
    print(f"load average at the end: {os.getloadavg()}\n")
    print(
        "| events/request | target | req/s | events/s | p50 ms | p99 ms | service CPU "
        "| events per CPU-second | non-2xx | errors |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for size in bodies:
        for name in ("bare shim", "ingest"):
            runs = results[(name, size)]
            cpu = statistics.median(r.cpu_s / r.duration_s for r in runs)
            per_cpu = statistics.median(r.events_per_cpu_s for r in runs)
            print(
                f"| {size} | {name} | {median(name, size, 'requests_per_s'):,.0f} "
                f"| {median(name, size, 'events_per_s'):,.0f} "
                f"| {median(name, size, 'p50_ms'):.2f} | {median(name, size, 'p99_ms'):.2f} "
                f"| {cpu:.2f} | {per_cpu:,.0f} "
                f"| {sum(r.non_2xx for r in runs)} | {sum(r.socket_errors for r in runs)} |"
            )
    for size in bodies:
        pairs = zip(results[("ingest", size)], results[("bare shim", size)], strict=True)
        wall = statistics.median(i.events_per_s / s.events_per_s for i, s in pairs)
        pairs = zip(results[("ingest", size)], results[("bare shim", size)], strict=True)
        cpu = statistics.median(i.events_per_cpu_s / s.events_per_cpu_s for i, s in pairs)
        print(
            f"\ningest / bare shim, {size} events/request: {wall:.2f} in events/s "
            f"(median of paired runs), {cpu:.2f} in events per CPU-second"
        )


if __name__ == "__main__":
    main()
