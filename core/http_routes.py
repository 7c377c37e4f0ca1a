"""The aiohttp routes every HTTP service shares, and the internal listener that serves them.

Probes and Prometheus's scrape endpoint live on an internal address and port of their own,
apart from a service's public listener: what the internet reaches is the API only.
"""

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def healthz(_: web.Request) -> web.Response:
    """Alive: the process answers (readiness is each service's own `/readyz`)."""
    return web.json_response({"status": "ok"})


async def metrics(_: web.Request) -> web.Response:
    """This process's metrics in Prometheus's text format."""
    return web.Response(
        body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


def internal_app(readyz: Handler) -> web.Application:
    """/healthz, /readyz and /metrics: what operators and orchestrators ask, nobody else."""
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    return app


def serve_beside(public: web.Application, internal: web.Application, host: str, port: int) -> None:
    """Serve `internal` on host:port for as long as `public` runs (started first, stopped last).

    It stops after the public app's cleanup, so /readyz answers 503 and /metrics stays
    scrapable while in-flight requests finish.
    """
    runner = web.AppRunner(internal, access_log=None)

    async def start(_: web.Application) -> None:
        await runner.setup()
        await web.TCPSite(runner, host, port).start()

    async def stop(_: web.Application) -> None:
        await runner.cleanup()

    public.on_startup.insert(0, start)
    public.on_cleanup.append(stop)
