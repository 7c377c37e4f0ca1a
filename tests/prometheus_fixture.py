"""A real Prometheus (Debian's package) scraping the local stack, queried over its HTTP API."""

import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import yaml

from pipeline.broker import die_with_parent, free_port
from tests.kafka_fixture import wait_for

OPS = Path(__file__).resolve().parent.parent / "ops"


def local_config(targets: dict[str, str], interval: str = "1s") -> str:
    """ops/prometheus/prometheus.yml with each job's target replaced by a local address."""
    config = yaml.safe_load((OPS / "prometheus" / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": interval, "evaluation_interval": interval}
    config["rule_files"] = [str(OPS / "prometheus" / name) for name in config["rule_files"]]
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": [targets[job["job_name"]]]}]
    return yaml.safe_dump(config)


class RunningPrometheus:
    def __init__(self, config: str) -> None:
        binary = shutil.which("prometheus")
        assert binary, "prometheus is not installed (apt-get install prometheus)"
        self._dir = tempfile.TemporaryDirectory(prefix="prometheus-")
        config_path = Path(self._dir.name, "prometheus.yml")
        config_path.write_text(config)
        self.url = f"http://127.0.0.1:{free_port()}"
        self._log = open(Path(self._dir.name, "prometheus.log"), "wb")
        self._process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={self._dir.name}/data",
                f"--web.listen-address={self.url.removeprefix('http://')}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # pytest killed or interrupted: it goes too
        )
        wait_for(self._ready, 30, "prometheus ready")

    def _ready(self) -> bool:
        assert self._process.poll() is None, Path(self._dir.name, "prometheus.log").read_text()
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def api(self, path: str, **params: str) -> Any:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=10) as response:
            body = orjson.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expression: str) -> list[Any]:
        return list(self.api("query", query=expression)["result"])

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(15)
        self._log.close()
        self._dir.cleanup()
