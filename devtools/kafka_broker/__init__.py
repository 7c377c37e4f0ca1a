"""The embedded broker: Apache Kafka itself (KRaft), run from its own jars on Maven Central.

Used by `make run`, the test fixtures and the benchmarks when no other cluster is configured.
Each node is one JVM that is both broker and controller (a static quorum), on free loopback
ports, with a fresh log directory that is removed when it stops. `pom.xml` beside this file
pins the version; Maven resolves the jars once into a cache directory.

Nothing here is shaped by a test broker: it is the same Kafka that deployments run.
"""

import base64
import contextlib
import ctypes
import fcntl
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import TracebackType

from confluent_kafka.admin import AdminClient

log = logging.getLogger(__name__)

_HERE = Path(__file__).resolve().parent
POM = _HERE / "pom.xml"
_LOG4J = _HERE / "log4j2.properties"
_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@cache
def kafka_version() -> str:
    """The Apache Kafka version pinned in pom.xml (the project's one pin of it)."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ElementTree.parse(POM).getroot().find("m:properties/m:kafka.version", ns)
    assert node is not None and node.text, f"{POM} names no kafka.version"
    return node.text.strip()


def _cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "amplitude-personalize-pipeline" / f"kafka-{kafka_version()}"


def kafka_jars() -> Path:
    """The folder of the broker's jars, resolved by Maven on first use (a file lock makes
    concurrent first uses wait for one resolution)."""
    target = _cache_dir()
    libs, done = target / "libs", target / "resolved"
    if done.exists():
        return libs
    target.mkdir(parents=True, exist_ok=True)
    with open(target / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError(
                "the embedded Kafka needs Maven (apt-get install maven) and Java 17+"
            )
        shutil.rmtree(libs, ignore_errors=True)
        print(f"resolving Apache Kafka {kafka_version()} from Maven Central (once)...", flush=True)
        result = subprocess.run(
            [mvn, "-B", "-q", "-f", str(POM), f"{_DEPENDENCY_PLUGIN}:copy-dependencies",
             "-DincludeScope=runtime", f"-DoutputDirectory={libs}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"Maven could not resolve Kafka's jars:\n{result.stdout[-3000:]}")
        done.touch()
    return libs


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home, "bin", "java")) if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise RuntimeError("the embedded Kafka needs Java 17+ (apt-get install openjdk-17-jre)")
    return java


def _cluster_id() -> str:
    """22 characters of base64url, as Kafka's own `random-uuid` prints (never a leading '-')."""
    while True:
        cid = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    """A `preexec_fn`: runs in the child before exec, so that the kernel SIGKILLs it if the
    thread that started it dies first; not even a SIGKILL of pytest or `make run` leaves a
    broker or a service behind.

    SIGKILL, not SIGTERM: a parent that dies without stopping its children took with it
    whoever waited for a graceful stop, and the broker dies at the same moment. A stream
    worker's graceful stop commits its offsets and, with no broker, waits for one (a worker
    with batches in flight outlived its killed pytest by more than ten minutes)."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class _Node:
    node_id: int
    port: int
    controller_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    extra_ports: dict[str, int] | None = None  # listener name -> port

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class EmbeddedKafka:
    """Apache Kafka on loopback: `brokers` combined broker+controller nodes in one cluster.

    `config` adds or overrides broker properties (for example `message.max.bytes`, or a SASL
    listener's JAAS settings). `listeners` adds listeners beside PLAINTEXT (which brokers and
    the controller keep using), as name -> security protocol, e.g. {"SASL": "SASL_PLAINTEXT"};
    `listener_bootstrap(name)` gives their addresses. Single nodes get replication factor 1
    for Kafka's internal topics; three nodes get 3 with `min.insync.replicas` 2, as a
    production cluster would.
    """

    def __init__(
        self,
        brokers: int = 1,
        host: str = "127.0.0.1",
        config: Mapping[str, str] | None = None,
        heap: str | None = None,
        listeners: Mapping[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        """`port`: the first node's PLAINTEXT port (default: a free one)."""
        self.host = host
        self.config = dict(config or {})
        self.heap = heap or ("512m" if brokers == 1 else "384m")
        self.listeners = dict(listeners or {})
        self._root: Path | None = None
        self._nodes = [
            _Node(
                i + 1,
                (port if i == 0 and port else free_port()),
                free_port(),
                Path(),
                None,
                {n: free_port() for n in self.listeners},
            )
            for i in range(brokers)
        ]

    @property
    def version(self) -> str:
        return kafka_version()

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"{self.host}:{node.port}" for node in self._nodes)

    def node_bootstrap(self, node_id: int) -> str:
        """The address of one node (ids start at 1, as Kafka's `node.id`)."""
        return f"{self.host}:{self._node(node_id).port}"

    def listener_bootstrap(self, name: str) -> str:
        """host:port,... of every node's listener `name` (one of `listeners`)."""
        return ",".join(f"{self.host}:{(n.extra_ports or {})[name]}" for n in self._nodes)

    def _node(self, node_id: int) -> _Node:
        return self._nodes[node_id - 1]

    def _properties(self, node: _Node) -> dict[str, str]:
        n = len(self._nodes)
        replicas, min_isr = (str(min(n, 3)), "2" if n >= 3 else "1")
        voters = ",".join(f"{m.node_id}@{self.host}:{m.controller_port}" for m in self._nodes)
        extra = "".join(
            f",{name}://{self.host}:{port}" for name, port in (node.extra_ports or {}).items()
        )
        protocols = "".join(f",{name}:{protocol}" for name, protocol in self.listeners.items())
        return {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://{self.host}:{node.port},"
            f"CONTROLLER://{self.host}:{node.controller_port}{extra}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{node.port}{extra}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
            + protocols,
            "log.dirs": str(node.directory / "data"),
            "offsets.topic.replication.factor": replicas,
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min_isr,
            "default.replication.factor": replicas,
            "min.insync.replicas": min_isr,
            # A local cluster has nobody to wait for: the first member gets its assignment now.
            "group.initial.rebalance.delay.ms": "0",
            **self.config,
        }

    def _jvm(self, node: _Node, heap: str) -> list[str]:
        return [
            _java(), f"-Xms{heap}", f"-Xmx{heap}", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true", f"-Dkafka.logs.dir={node.directory}",
            f"-Dlog4j2.configurationFile={_LOG4J}", "-cp", f"{kafka_jars()}/*",
        ]  # fmt: skip

    def start(self, timeout: float = 120.0) -> "EmbeddedKafka":
        """Format a fresh log directory per node, start every node, wait until all answer."""
        self._root = Path(tempfile.mkdtemp(prefix="embedded-kafka-"))
        cluster_id = _cluster_id()
        formats = []
        for node in self._nodes:
            node.directory = self._root / f"node-{node.node_id}"
            node.directory.mkdir()
            properties = node.directory / "server.properties"
            properties.write_text("".join(f"{k}={v}\n" for k, v in self._properties(node).items()))
            formats.append(
                subprocess.Popen(
                    [
                        *self._jvm(node, "128m"),
                        "kafka.tools.StorageTool",
                        "format",
                        "-t",
                        cluster_id,
                        "-c",
                        str(properties),
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    preexec_fn=die_with_parent,
                )
            )
        for process in formats:
            output, _ = process.communicate(timeout=timeout)
            if process.returncode != 0:
                self.stop()
                raise RuntimeError(f"kafka-storage format failed:\n{output.decode()[-2000:]}")
        for node in self._nodes:
            self.start_node(node.node_id, wait=False)
        self.wait_until_serving(timeout)
        log.info(
            "embedded Apache Kafka ready",
            extra={"kafka_version": self.version, "bootstrap": self.bootstrap_servers},
        )
        return self

    def start_node(self, node_id: int, wait: bool = True, timeout: float = 120.0) -> None:
        """(Re)start one node on its own ports and log directory (kept across restarts)."""
        node = self._node(node_id)
        assert not node.running, f"node {node_id} is running"
        with open(node.directory / "stdout.log", "ab") as out:
            node.process = subprocess.Popen(
                [*self._jvm(node, self.heap), "kafka.Kafka",
                 str(node.directory / "server.properties")],
                stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us; we stop the nodes in order.
                preexec_fn=die_with_parent,
            )  # fmt: skip
        if wait:
            self.wait_until_serving(timeout, nodes=[node])

    def wait_until_serving(self, timeout: float = 120.0, nodes: list[_Node] | None = None) -> None:
        """Until every node in `nodes` (default: all running ones) is in the cluster's metadata."""
        waiting = nodes or [n for n in self._nodes if n.running]
        wanted = {n.node_id for n in waiting}
        # Each node is asked itself: a killed node stays in the others' metadata for a while.
        admins = {
            n.node_id: AdminClient({"bootstrap.servers": f"{self.host}:{n.port}", "log_level": 0})
            for n in waiting
        }
        deadline = time.monotonic() + timeout
        while True:
            for node in waiting:
                if not node.running:
                    self.stop()
                    raise RuntimeError(f"Kafka node {node.node_id} exited: {self._tail(node)}")
            with contextlib.suppress(Exception):
                for node_id, admin in list(admins.items()):
                    if wanted <= set(admin.list_topics(timeout=1.0).brokers):
                        del admins[node_id]
                if not admins:
                    return
            if time.monotonic() > deadline:
                tails = "".join(self._tail(self._node(i)) for i in wanted)
                self.stop()
                raise TimeoutError(f"Kafka did not serve on {self.bootstrap_servers}: {tails}")
            time.sleep(0.1)

    @staticmethod
    def _tail(node: _Node) -> str:
        lines: list[str] = []
        for name in ("stdout.log", "server.log"):
            with contextlib.suppress(OSError):
                lines += (node.directory / name).read_text(errors="replace").splitlines()[-15:]
        return "\n".join(["", *lines])

    def stop_node(self, node_id: int, kill: bool = False, timeout: float = 60.0) -> None:
        """SIGTERM (a controlled shutdown) or SIGKILL (a crash) one node, and wait for it."""
        node = self._node(node_id)
        if node.process is None:
            return
        if node.process.poll() is None:
            node.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                node.process.wait(timeout)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()
        node.process = None

    def stop(self) -> None:
        """Stop every node (in parallel: SIGTERM all, then wait), then remove the log dirs."""
        for node in self._nodes:
            if node.running:
                assert node.process is not None
                node.process.terminate()
        for node in self._nodes:
            self.stop_node(node.node_id)
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    @property
    def running(self) -> bool:
        return any(node.running for node in self._nodes)

    def pid(self, node_id: int = 1) -> int:
        """The JVM's process id (for benchmarks that pin or measure it, tests that pause it)."""
        process = self._node(node_id).process
        assert process is not None, f"node {node_id} is not running"
        return process.pid

    def pin(self, cores: set[int]) -> None:
        """Pin every thread of every running node's JVM to `cores` (benchmarks keep the broker
        off the measured process's core; the threads a JVM starts later inherit it)."""
        for node in self._nodes:
            if node.process is not None:
                for task in Path(f"/proc/{node.process.pid}/task").iterdir():
                    with contextlib.suppress(ProcessLookupError):
                        os.sched_setaffinity(int(task.name), cores)

    def __enter__(self) -> "EmbeddedKafka":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
