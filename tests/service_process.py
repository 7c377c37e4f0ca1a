"""Run one pipeline service as a child process, as deployed, and wait until it is ready."""

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from pipeline.devstack import answers_ok
from tests.kafka_fixture import wait_for


def scraped(metrics_url: str, line_prefix: str) -> float:
    """The value of the first line of a /metrics page starting with `line_prefix` (0 if none)."""
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(line_prefix):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


class ServiceProcess:
    def __init__(self, command: str, env: dict[str, str], ready_url: str, log: Path) -> None:
        self.command, self.ready_url, self.log = command, ready_url, log
        self._env = {**os.environ, **env}
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self) -> "ServiceProcess":
        """Start the process without waiting for it to be ready."""
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", self.command],
                env=self._env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        return self

    def start(self, timeout: float = 60.0) -> "ServiceProcess":
        self.launch()

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                tail = self.log.read_text()[-3000:]
                raise AssertionError(f"{self.command} exited {self.process.returncode}:\n{tail}")
            return answers_ok(self.ready_url)

        wait_for(ready, timeout, f"{self.command} ready at {self.ready_url}")
        return self

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process is None:
            return 0
        self.process.terminate()
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
