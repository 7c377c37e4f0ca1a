"""The Personalize emulator for tests: its real HTTP server on a free port, in a thread."""

import asyncio
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import orjson
import pytest
from aiohttp import web

from emulator import EmulatorSettings, create_app
from pipeline.broker import free_port


class RunningEmulator:
    def __init__(self, settings: EmulatorSettings) -> None:
        self.url = f"http://127.0.0.1:{settings.port}"
        self._settings = settings
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        runner = web.AppRunner(create_app(self._settings))
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", self._settings.port)
        self._loop.run_until_complete(site.start())
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    def start(self) -> "RunningEmulator":
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def put_events(self) -> list[dict[str, Any]]:
        """Every PutEvents body the emulator accepted, in order."""
        with urllib.request.urlopen(f"{self.url}/_emulator/put-events") as response:
            return list(orjson.loads(response.read()))

    def stats(self) -> dict[str, Any]:
        """Calls and events accepted, re-sent eventIds, faults injected (GET /_emulator/stats)."""
        with urllib.request.urlopen(f"{self.url}/_emulator/stats") as response:
            return dict(orjson.loads(response.read()))

    def set_faults(self, **faults: object) -> dict[str, Any]:
        """Change fault injection while running (POST /_emulator/faults)."""
        request = urllib.request.Request(
            f"{self.url}/_emulator/faults", data=orjson.dumps(faults), method="POST"
        )
        with urllib.request.urlopen(request) as response:
            return dict(orjson.loads(response.read()))

    def client(self) -> Any:
        return boto3.client(
            "personalize-events",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )


@pytest.fixture
def personalize_emulator() -> Iterator[RunningEmulator]:
    emulator = RunningEmulator(EmulatorSettings(port=free_port())).start()
    yield emulator
    emulator.stop()
