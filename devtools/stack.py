"""The whole pipeline on one machine: embedded broker, emulator, ingest, streams, sink.

`make run` runs `main()` in the foreground; the end-to-end tests use `LocalStack` directly.
Each service runs as its own process, exactly as deployed, configured only by environment.
Before the other services start, the Personalize plan is applied to the emulator (as
`pipeline personalize apply` would to AWS), so its solution weights rank and its
negative-feedback filter is the recommendations API's default filter.
On a cluster it did not start (`KAFKA_BOOTSTRAP_SERVERS`) every topic and consumer group it
uses is its own, so a local or test run never reads production's events nor commits its offsets.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from core.kafka import ensure_topics
from core.settings import KafkaSettings
from devtools.kafka_broker import EmbeddedKafka, die_with_parent, free_port
from provision import PersonalizeSetupSettings
from provision.apply import ApplyReport, apply_plan
from sinks.catalog.settings import CatalogSinkSettings
from sinks.history.settings import HistorySettings
from sinks.personalize.settings import SinkSettings
from streams.settings import StreamsSettings

DEV_SECRET = "dev-secret-change-me"
DEV_API_KEY = "dev-api-key-change-me"  # for Amplitude's SDKs: the api_key of an HTTP V2 body
DEV_TRACKING_ID = "local-tracker"
# The emulator's default campaigns (emulator.EmulatorSettings.campaign_arns).
DEV_CAMPAIGN_ARN = "arn:aws:personalize:us-east-1:000000000000:campaign/local-user-personalization"
DEV_SIMS_CAMPAIGN_ARN = "arn:aws:personalize:us-east-1:000000000000:campaign/local-sims"


@dataclass
class Ports:
    ingest: int = 8000
    emulator: int = 8001
    streams_web: int = 6066
    sink_status: int = 9102
    recommendations: int = 8002
    history_status: int = 9103
    # The internal listeners (/metrics, /healthz, /readyz) of the services with a public one.
    ingest_internal: int = 9100
    recommendations_internal: int = 9101
    users_sink_status: int = 9104
    items_sink_status: int = 9105

    @classmethod
    def free(cls) -> "Ports":
        return cls(*(free_port() for _ in fields(cls)))


SERVICES = (
    "emulator",
    "ingest",
    "streams",
    "sink",
    "recommendations",
    "history",
    "users-sink",
    "items-sink",
)


def run_names(suffix: str) -> dict[str, str]:
    """Every topic and consumer-group setting of the services, as `<default>.<suffix>`: names
    no deployment uses. Explicit, so no name the user exported (a production one) leaks in."""
    defaults = {
        "RAW_TOPIC": KafkaSettings.model_fields["raw_topic"].default,
        "INTERACTIONS_TOPIC": KafkaSettings.model_fields["interactions_topic"].default,
        "RAW_DEAD_LETTER_TOPIC": KafkaSettings.model_fields["raw_dead_letter_topic"].default,
        "INTERACTIONS_DEAD_LETTER_TOPIC": KafkaSettings.model_fields[
            "interactions_dead_letter_topic"
        ].default,
        "STREAMS_APP_ID": StreamsSettings.model_fields["streams_app_id"].default,  # + changelog
        "SINK_GROUP_ID": SinkSettings.model_fields["sink_group_id"].default,
        "HISTORY_GROUP_ID": HistorySettings.model_fields["history_group_id"].default,
        **{
            variable.upper(): CatalogSinkSettings.model_fields[variable].default
            for variable in (
                "users_topic",
                "items_topic",
                "users_dead_letter_topic",
                "items_dead_letter_topic",
                "users_sink_group_id",
                "items_sink_group_id",
            )
        },
    }
    names = {variable: f"{name}.{suffix}" for variable, name in defaults.items()}
    names["SINK_DELIVERY_LOG_TOPIC"] = (
        f"{names['INTERACTIONS_TOPIC']}.{names['SINK_GROUP_ID']}.delivered"
    )
    return names


@dataclass
class LocalStack:
    """Start the services as child processes against `bootstrap` (or an embedded broker)."""

    ports: Ports = field(default_factory=Ports)
    bootstrap: str | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    history_dir: Path = field(default_factory=lambda: Path(".history").resolve())
    services: tuple[str, ...] = SERVICES
    # The embedded broker's port (None: a free one); `make run` asks for Kafka's usual 9092.
    kafka_port: int | None = None
    # The recommendations API's bearer token (RECOMMENDATIONS_API_TOKENS wins when exported).
    api_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    _broker: EmbeddedKafka | None = None
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _data_dir: tempfile.TemporaryDirectory[str] | None = None
    _personalize: ApplyReport | None = None
    # Topic and group names of this run; empty on the embedded broker (nobody else's there).
    names: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        assert self.bootstrap is not None
        assert self._data_dir is not None
        env = {
            **os.environ,
            # The one place that says "local stack": the published secret is accepted here only.
            "PIPELINE_ENV": "local",
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            # One machine: a killed service's partitions move on in 6 s, not Kafka's 45.
            "KAFKA_SESSION_TIMEOUT_MS": os.environ.get("KAFKA_SESSION_TIMEOUT_MS", "6000"),
            "AMPLITUDE_WEBHOOK_SECRET": os.environ.get("AMPLITUDE_WEBHOOK_SECRET", DEV_SECRET),
            "INGEST_API_KEYS": os.environ.get("INGEST_API_KEYS", DEV_API_KEY),
            "AWS_PERSONALIZE_TRACKING_ID": os.environ.get(
                "AWS_PERSONALIZE_TRACKING_ID",
                (self._personalize and self._personalize.tracking_id) or DEV_TRACKING_ID,
            ),
            "AWS_PERSONALIZE_FILTER_ARN": os.environ.get(
                "AWS_PERSONALIZE_FILTER_ARN",
                (self._personalize and self._personalize.negative_filter_arn) or "",
            ),
            "PERSONALIZE_ENDPOINT_URL": os.environ.get(
                "PERSONALIZE_ENDPOINT_URL", f"http://127.0.0.1:{self.ports.emulator}"
            ),
            "PERSONALIZE_RUNTIME_ENDPOINT_URL": os.environ.get(
                "PERSONALIZE_RUNTIME_ENDPOINT_URL", f"http://127.0.0.1:{self.ports.emulator}"
            ),
            "AWS_PERSONALIZE_CAMPAIGN_ARN": os.environ.get(
                "AWS_PERSONALIZE_CAMPAIGN_ARN", DEV_CAMPAIGN_ARN
            ),
            "AWS_PERSONALIZE_SIMS_CAMPAIGN_ARN": os.environ.get(
                "AWS_PERSONALIZE_SIMS_CAMPAIGN_ARN", DEV_SIMS_CAMPAIGN_ARN
            ),
            # The emulator ignores credentials, but botocore refuses to sign without some.
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "emulator"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "emulator"),
            "INGEST_PORT": str(self.ports.ingest),
            "INGEST_INTERNAL_PORT": str(self.ports.ingest_internal),
            "EMULATOR_PORT": str(self.ports.emulator),
            "STREAMS_WEB_PORT": str(self.ports.streams_web),
            "STREAMS_DATA_DIR": self._data_dir.name,
            "SINK_STATUS_PORT": str(self.ports.sink_status),
            "RECOMMENDATIONS_PORT": str(self.ports.recommendations),
            "RECOMMENDATIONS_INTERNAL_PORT": str(self.ports.recommendations_internal),
            "RECOMMENDATIONS_API_TOKENS": os.environ.get(
                "RECOMMENDATIONS_API_TOKENS", self.api_token
            ),
            "HISTORY_TARGET": os.environ.get("HISTORY_TARGET", f"file://{self.history_dir}"),
            "HISTORY_ROLL_SECONDS": os.environ.get("HISTORY_ROLL_SECONDS", "10"),
            "HISTORY_STATUS_PORT": str(self.ports.history_status),
            "USERS_SINK_STATUS_PORT": str(self.ports.users_sink_status),
            "ITEMS_SINK_STATUS_PORT": str(self.ports.items_sink_status),
            "USERS_DATASET_ARN": os.environ.get("USERS_DATASET_ARN", self.dataset_arn("USERS")),
            "ITEMS_DATASET_ARN": os.environ.get("ITEMS_DATASET_ARN", self.dataset_arn("ITEMS")),
            **self.names,
        }
        env.update(self.extra_env)
        return env

    @staticmethod
    def dataset_arn(dataset_type: str) -> str:
        """The emulator's ARN of the plan's Users (Items) dataset: AWS's form, dataset/<group>/
        <TYPE>, which `pipeline personalize apply` creates and the emulator answers for."""
        group = PersonalizeSetupSettings().personalize_dataset_group_name
        return f"arn:aws:personalize:us-east-1:000000000000:dataset/{group}/{dataset_type}"

    @property
    def kafka(self) -> KafkaSettings:
        """The run's broker and topics as its services see them (extra_env may name them, or
        their replicas)."""
        fields = KafkaSettings.model_fields
        return KafkaSettings(**{k.lower(): v for k, v in self.env().items() if k.lower() in fields})

    def start(self, timeout: float = 60.0) -> "LocalStack":
        self._data_dir = tempfile.TemporaryDirectory(prefix="pipeline-dev-")
        if self.bootstrap is None:
            # Assigned first: stop() stops a half-started one.
            self._broker = EmbeddedKafka(port=self.kafka_port)
            self._broker.start()
            self.bootstrap = self._broker.bootstrap_servers
        else:  # someone else's cluster, perhaps production's: use names of this run's own
            self.names = run_names(f"dev-{uuid.uuid4().hex[:8]}")
        try:
            ensure_topics(self.kafka)
            if "emulator" in self.services:
                self._spawn("emulator", self.env())
                self.wait_ready(timeout, only=("emulator",))
                self._personalize = self._set_up_personalize(self.env())
            env = self.env()
            for name in self.services:
                if name != "emulator":
                    self._spawn(name, env)
            self.wait_ready(timeout)
        except BaseException:
            self.stop()  # no service outlives a start that failed
            raise
        return self

    def _set_up_personalize(self, env: dict[str, str]) -> ApplyReport:
        """`pipeline personalize apply` against the emulator, with the streams stage's rules."""
        import boto3

        from schemas import load_rules

        settings = PersonalizeSetupSettings(
            personalize_api_endpoint_url=f"http://127.0.0.1:{self.ports.emulator}",
            streams_rules_path=env.get("STREAMS_RULES_PATH") or None,
        )
        client = boto3.client(
            "personalize",
            region_name=settings.aws_region,
            endpoint_url=settings.personalize_api_endpoint_url,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        return apply_plan(client, load_rules(settings.streams_rules_path), settings)

    def _spawn(self, name: str, env: dict[str, str]) -> None:
        output = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            output = open(self.log_dir / f"{name}.log", "ab")
        self._processes[name] = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", name],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT if output else None,
            preexec_fn=die_with_parent,  # `make run` killed: the services go too
        )

    def probes(self) -> dict[str, str]:
        """Each running service's readiness URL (the sink: ready once it holds partitions)."""
        probes = {
            "emulator": f"http://127.0.0.1:{self.ports.emulator}/healthz",
            "ingest": f"http://127.0.0.1:{self.ports.ingest_internal}/readyz",
            "streams": f"http://127.0.0.1:{self.ports.streams_web}/readyz",
            "sink": f"http://127.0.0.1:{self.ports.sink_status}/readyz",
            "recommendations": f"http://127.0.0.1:{self.ports.recommendations_internal}/readyz",
            "history": f"http://127.0.0.1:{self.ports.history_status}/readyz",
            "users-sink": f"http://127.0.0.1:{self.ports.users_sink_status}/readyz",
            "items-sink": f"http://127.0.0.1:{self.ports.items_sink_status}/readyz",
        }
        return {name: url for name, url in probes.items() if name in self.services}

    def wait_ready(self, timeout: float, only: tuple[str, ...] | None = None) -> None:
        """Wait until every service (or those in `only`) answers its probe."""
        deadline = time.monotonic() + timeout
        for name, url in self.probes().items():
            if only is not None and name not in only:
                continue
            while not answers_ok(url):
                self.check_alive()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not ready after {timeout}s ({url})")
                time.sleep(0.1)  # polling a condition, with a deadline

    def pids(self) -> dict[str, int]:
        """Each service's process id (a restarted or replaced process has a new one)."""
        return {name: process.pid for name, process in self._processes.items()}

    def check_alive(self) -> None:
        for name, process in self._processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with code {process.returncode}{self._last_lines(name)}"
                )

    def _last_lines(self, name: str, count: int = 20) -> str:
        """The end of a service's log (when it has one), for the error that says it died."""
        if self.log_dir is None or not (self.log_dir / f"{name}.log").exists():
            return ""
        lines = (self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()
        return "; the end of its log:\n" + "\n".join(lines[-count:])

    def stop(self) -> None:
        for process in reversed(list(self._processes.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self._processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()
        if self._broker is not None:
            self._broker.stop()
        if self._data_dir is not None:
            self._data_dir.cleanup()


def port_is_free(port: int) -> bool:
    """True when nothing listens on `port` of loopback (so a broker can bind it)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def answers_ok(url: str) -> bool:
    """True when `url` answers 200 within a second (a service's probe)."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def main() -> None:
    """Run the stack in the foreground until Ctrl-C or SIGTERM, then stop everything (also
    when that comes while it is still starting)."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # SIGINT raises KeyboardInterrupt already
    # Kafka's usual port when it is free, so docs/contracts.md's kcat and consumer examples work.
    kafka_port = 9092 if port_is_free(9092) else None
    stack = LocalStack(bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"), kafka_port=kafka_port)
    try:
        stack.start()
        print(banner(stack), flush=True)
        while True:
            time.sleep(0.5)  # a supervisor's beat: no event tells us a child died
            stack.check_alive()
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping...", flush=True)
        stack.stop()


def banner(stack: LocalStack) -> str:
    """What `make run` prints: where each service is, and the credentials to reach it."""
    env = stack.env()
    secret = env["AMPLITUDE_WEBHOOK_SECRET"]
    shown = secret if secret == DEV_SECRET else "<your AMPLITUDE_WEBHOOK_SECRET>"
    token = env["RECOMMENDATIONS_API_TOKENS"]
    token = token if token == stack.api_token else "<your RECOMMENDATIONS_API_TOKENS>"
    api_key = env["INGEST_API_KEYS"]
    shown_key = api_key if api_key == DEV_API_KEY else "<one of your INGEST_API_KEYS>"
    emu = f"http://127.0.0.1:{stack.ports.emulator}"
    embedded = ""
    if stack._broker is not None:
        embedded = f"  (embedded Apache Kafka {stack._broker.version}, data removed on stop)"
    own = ""
    if stack.names:
        own = f"  own topics         {', '.join(stack.kafka.all_topics)}\n"
    return f"""
pipeline running (Ctrl-C stops everything)
  kafka              {stack.bootstrap}{embedded}
{own}  ingest webhook     http://127.0.0.1:{stack.ports.ingest}/webhooks/amplitude
                     Authorization: Bearer {shown}
                     Amplitude SDKs: server_url=<that URL>, api_key {shown_key}
  ingest metrics     http://127.0.0.1:{stack.ports.ingest_internal}/metrics
  streams metrics    http://127.0.0.1:{stack.ports.streams_web}/metrics
  sink metrics       http://127.0.0.1:{stack.ports.sink_status}/metrics
  users sink metrics http://127.0.0.1:{stack.ports.users_sink_status}/metrics
  items sink metrics http://127.0.0.1:{stack.ports.items_sink_status}/metrics
  recommendations    http://127.0.0.1:{stack.ports.recommendations}/recommendations/<user_id>
                     http://127.0.0.1:{stack.ports.recommendations}/similar-items/<item_id>
                     Authorization: Bearer {token}
  recommend. metrics http://127.0.0.1:{stack.ports.recommendations_internal}/metrics
  history (CSV)      {env["HISTORY_TARGET"]}  (files roll every {env["HISTORY_ROLL_SECONDS"]}s)
  personalize plan   applied to the emulator; filter {env["AWS_PERSONALIZE_FILTER_ARN"]}
  emulator           http://127.0.0.1:{stack.ports.emulator}/_emulator/put-events
                     {emu}/_emulator/put-users, {emu}/_emulator/put-items
                     faults: curl -d '{{"throttle_rate":0.3}}' {emu}/_emulator/faults
"""
