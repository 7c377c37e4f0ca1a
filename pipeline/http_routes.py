"""The aiohttp routes every HTTP service shares: liveness and Prometheus's scrape endpoint."""

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest


async def healthz(_: web.Request) -> web.Response:
    """Alive: the process answers (readiness is each service's own `/readyz`)."""
    return web.json_response({"status": "ok"})


async def metrics(_: web.Request) -> web.Response:
    """This process's metrics in Prometheus's text format."""
    return web.Response(
        body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )
