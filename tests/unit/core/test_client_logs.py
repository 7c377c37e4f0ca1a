"""librdkafka's own log lines come out as the services' log lines (core/kafka.py's logger):
a connection refused by a closed port, from each kind of client the services use."""

import subprocess
import sys

import pytest

from devtools.kafka_broker import free_port
from tests.fixtures.log_format import parsed_lines

# Runs in a child process: librdkafka writes its plain lines to file descriptor 2 itself, so
# only a real stderr shows whether one escaped the format.
PROBE = """
import logging, sys, threading, time
from confluent_kafka import Consumer, Producer
from core.consumer_lag import LagReporter
from core.kafka import consumer_config, ensure_topics, producer_config
from core.logs import configure_logging
from core.settings import KafkaSettings

configure_logging("probe")
seen = threading.Event()
class Seen(logging.Handler):
    def emit(self, record):
        seen.set()
logging.getLogger("librdkafka").addHandler(Seen())
settings = KafkaSettings(kafka_bootstrap_servers=sys.argv[2])
deadline = time.monotonic() + 30
kind = sys.argv[1]
if kind == "producer":
    client = Producer(producer_config(settings))
    while not seen.is_set() and time.monotonic() < deadline:
        client.poll(0.1)
    served = seen.is_set()
elif kind == "consumer":
    client = Consumer(consumer_config(settings, "probe", offset_reset="latest"))
    client.subscribe(["probe"])
    while not seen.is_set() and time.monotonic() < deadline:
        client.poll(0.1)
    served = seen.is_set()
    client.close()
elif kind == "admin":  # topic creation, as `pipeline topics` and the sink's start-up run it
    try:
        ensure_topics(settings, timeout=3)
    except Exception:
        pass  # no cluster: the admin call times out, and what librdkafka said is served
    served = seen.is_set()
else:  # the lag reporter's consumer, which is never assigned
    lag = LagReporter(settings, "probe", "probe", interval=0.1).start()
    served = seen.wait(30)  # while it runs, not only by its close()
    lag.stop()
logging.getLogger("probe").info("done", extra={"served": served})
"""


@pytest.mark.parametrize("kind", ["producer", "consumer", "lag", "admin"])
def test_a_refused_connection_is_logged_in_the_one_format(kind: str) -> None:
    closed = f"127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, kind, closed],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    entries = parsed_lines(result.stderr, "probe")
    assert entries[-1]["msg"] == "done" and entries[-1]["served"], result.stderr[-3000:]
    refused = [
        e for e in entries if e["logger"] == "librdkafka" and "Connection refused" in e["msg"]
    ]
    assert refused, result.stderr[-3000:]
    assert refused[0]["level"] == "error"
    assert closed in refused[0]["msg"]
