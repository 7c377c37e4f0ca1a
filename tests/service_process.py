"""Run one pipeline service as a child process, as deployed, and wait until it is ready."""

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from pipeline.broker import die_with_parent
from pipeline.devstack import answers_ok
from tests.kafka_fixture import wait_for


def scraped(metrics_url: str, line_prefix: str) -> float:
    """The value of the first line of a /metrics page starting with `line_prefix` (0 if none)."""
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(line_prefix):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


# The logs of the services the running test started: a failed test's report shows what they
# said (`log_report`, called from tests/conftest.py), so a failure in CI can be read from CI.
started_logs: list[Path] = []
_LOUD = (
    "[WARNING]",
    "[ERROR]",
    "[CRITICAL]",
    '"level":"warning"',
    '"level":"error"',
    '"level":"critical"',
)


def log_report(lines: int = 20) -> list[tuple[str, str]]:
    """(title, text) for each log in `started_logs`: its last `lines` warnings and errors,
    then its last `lines` lines, each cut to 300 characters."""
    sections = []
    for log in started_logs:
        if log.exists():
            text = [line[:300] for line in log.read_text(errors="replace").splitlines()]
            loud = [line for line in text if any(mark in line for mark in _LOUD)]
            if loud:
                sections.append((f"{log.name}: warnings and errors", "\n".join(loud[-lines:])))
            sections.append((f"{log.name}: its end", "\n".join(text[-lines:])))
    return sections


class ServiceProcess:
    def __init__(self, command: str, env: dict[str, str], ready_url: str, log: Path) -> None:
        self.command, self.ready_url, self.log = command, ready_url, log
        self._env = {**os.environ, **env}
        self.process: subprocess.Popen[bytes] | None = None
        started_logs.append(log)

    def launch(self) -> "ServiceProcess":
        """Start the process without waiting for it to be ready."""
        with open(self.log, "ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pipeline.cli", self.command],
                env=self._env,
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,  # pytest killed or interrupted: it goes too
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
