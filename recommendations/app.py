"""HTTP routes: GET /recommendations/{user_id}, GET /similar-items/{item_id} (public, behind a
bearer token); /healthz, /readyz and /metrics on the internal listener.

Query parameters: `num_results` (1-500), `filter_arn` (one of RECOMMENDATIONS_FILTER_ARNS, or
AWS_PERSONALIZE_FILTER_ARN) with `filter_values` (a JSON object of strings), `context` (a JSON
object of strings, keys from RECOMMENDATIONS_CONTEXT_KEYS). The service calls Personalize with
its own AWS identity: what a caller may make it ask is only what the allow-lists name. A user's
recommendations go through AWS_PERSONALIZE_FILTER_ARN (the negative-feedback filter) unless
`filter_arn` says otherwise (`filter_arn=` for none); similar items are not filtered by default
(an interactions filter needs a user). Answers carry Personalize's `recommendation_id`: clients
send it back with impression and click events so the stream stage can attach it.
"""

import asyncio
import hmac
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from aiohttp import web

from core import http_routes
from core.secret_strength import WeakSecretError, refuse_weak_secrets
from recommendations import metrics
from recommendations.cache import AnswerCache
from recommendations.invalidation import InvalidationListener
from recommendations.personalize_runtime import (
    RecommendationError,
    build_client,
    get_recommendations,
)
from recommendations.settings import RecommendationsSettings

log = logging.getLogger(__name__)

_SETTINGS = web.AppKey("settings", RecommendationsSettings)
_CACHE = web.AppKey("cache", AnswerCache)
_CLIENT = web.AppKey("client", object)
_POOL = web.AppKey("pool", ThreadPoolExecutor)
_LISTENER = web.AppKey("listener", InvalidationListener)


def _json(route: str, status: int, body: dict[str, Any]) -> web.Response:
    metrics.REQUESTS.labels(route=route, status=str(status)).inc()
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def _string_map(request: web.Request, name: str) -> dict[str, str]:
    raw = request.query.get(name)
    if raw is None:
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise RecommendationError(400, f"{name} must be a JSON object") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise RecommendationError(400, f"{name} must be a JSON object of strings")
    return value


def _request(request: web.Request, subject_field: str, subject: str, campaign: str) -> dict:
    settings = request.app[_SETTINGS]
    try:
        count = int(request.query.get("num_results", settings.recommendations_default_num_results))
    except ValueError:
        raise RecommendationError(400, "num_results must be a whole number") from None
    if not 1 <= count <= 500:
        raise RecommendationError(400, "num_results must be between 1 and 500")
    call: dict[str, Any] = {"campaignArn": campaign, subject_field: subject, "numResults": count}
    filter_values = _string_map(request, "filter_values")
    default = settings.aws_personalize_filter_arn if subject_field == "userId" else None
    filter_arn = request.query.get("filter_arn", default)
    offered = (*settings.recommendations_filter_arns, settings.aws_personalize_filter_arn)
    if filter_arn and filter_arn not in offered:
        raise RecommendationError(
            400, "filter_arn is not one this API offers (RECOMMENDATIONS_FILTER_ARNS)"
        )
    if filter_arn:
        call["filterArn"] = filter_arn
        if filter_values:
            call["filterValues"] = filter_values
    elif filter_values:
        raise RecommendationError(400, "filter_values needs filter_arn")
    context = _string_map(request, "context")
    unknown = set(context) - set(settings.recommendations_context_keys)
    if unknown:
        raise RecommendationError(
            400, f"context keys not accepted (RECOMMENDATIONS_CONTEXT_KEYS): {sorted(unknown)[:5]}"
        )
    if context:
        call["context"] = context
    return call


class _Tokens:
    """The bearer tokens the API accepts; every one compared in constant time."""

    def __init__(self, settings: RecommendationsSettings) -> None:
        self._tokens = [t.get_secret_value().encode() for t in settings.recommendations_api_tokens]

    def allows(self, request: web.Request) -> bool:
        if not self._tokens:
            return True  # run() refuses this unless RECOMMENDATIONS_ALLOW_UNAUTHENTICATED
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        given = presented.strip().encode("utf-8", "surrogateescape")
        matched = False
        for token in self._tokens:  # no early exit: the time does not say which matched
            matched |= hmac.compare_digest(given, token)
        return matched and scheme.lower() == "bearer"


_TOKENS = web.AppKey("tokens", _Tokens)


async def _answer(request: web.Request, route: str, subject_field: str, campaign: str | None):
    subject = request.match_info["subject"]
    if not request.app[_TOKENS].allows(request):
        response = _json(route, 401, {"error": "missing or wrong bearer token (Authorization)"})
        response.headers["WWW-Authenticate"] = 'Bearer realm="recommendations"'
        return response
    if not campaign:
        setting = (
            "AWS_PERSONALIZE_CAMPAIGN_ARN"
            if route == "recommendations"
            else ("AWS_PERSONALIZE_SIMS_CAMPAIGN_ARN")
        )
        return _json(route, 404, {"error": f"no campaign configured ({setting})"})
    try:
        call = _request(request, subject_field, subject, campaign)
    except RecommendationError as exc:
        return _json(route, exc.status, {"error": str(exc)})
    cache = request.app[_CACHE]
    variant = orjson.dumps(call, option=orjson.OPT_SORT_KEYS)
    key = f"{subject_field}:{subject}"
    cached = cache.get(key, variant)
    if cached is not None:
        metrics.CACHE.labels(result="hit").inc()
        return _json(route, 200, {**cached, "cached": True})
    metrics.CACHE.labels(result="miss").inc()
    fetched_at = cache.now()
    loop = asyncio.get_running_loop()
    try:
        with metrics.PERSONALIZE_DURATION.time():
            answer = await loop.run_in_executor(
                request.app[_POOL], get_recommendations, request.app[_CLIENT], call
            )
    except RecommendationError as exc:
        return _json(route, exc.status, {"error": str(exc)})
    cache.put(key, variant, answer, fetched_at)
    return _json(route, 200, {**answer, "cached": False})


async def _recommendations(request: web.Request) -> web.Response:
    campaign = request.app[_SETTINGS].aws_personalize_campaign_arn
    return await _answer(request, "recommendations", "userId", campaign)


async def _similar_items(request: web.Request) -> web.Response:
    campaign = request.app[_SETTINGS].aws_personalize_sims_campaign_arn
    return await _answer(request, "similar_items", "itemId", campaign)


def internal_app(public: web.Application) -> web.Application:
    """The internal listener's app (/healthz, /readyz, /metrics) for the API `public`."""

    async def readyz(_: web.Request) -> web.Response:
        if _LISTENER in public and public[_LISTENER].assigned.is_set():
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "invalidation listener not assigned"}, status=503)

    return http_routes.internal_app(readyz)


async def _start_listener(app: web.Application) -> None:
    loop = asyncio.get_running_loop()
    cache = app[_CACHE]

    def invalidate(user: str) -> None:  # called from the listener's thread
        def drop() -> None:
            if cache.invalidate(f"userId:{user}"):
                metrics.INVALIDATIONS.inc()

        loop.call_soon_threadsafe(drop)

    app[_LISTENER] = InvalidationListener(app[_SETTINGS], invalidate)
    app[_LISTENER].start()


async def _stop(app: web.Application) -> None:
    app[_LISTENER].stop()
    app[_POOL].shutdown(wait=False)


def create_app(settings: RecommendationsSettings) -> web.Application:
    app = web.Application()
    app[_SETTINGS] = settings
    app[_TOKENS] = _Tokens(settings)
    app[_CACHE] = AnswerCache(
        settings.recommendations_cache_ttl_seconds, settings.recommendations_cache_size
    )
    app[_CLIENT] = build_client(settings)
    app[_POOL] = ThreadPoolExecutor(settings.recommendations_threads, "get-recommendations")
    app.router.add_get("/recommendations/{subject}", _recommendations)
    app.router.add_get("/similar-items/{subject}", _similar_items)
    app.on_startup.append(_start_listener)
    app.on_cleanup.append(_stop)
    return app


def run(settings: RecommendationsSettings) -> None:
    """Serve until SIGTERM/SIGINT. Refuses to start (WeakSecretError) without a token unless
    RECOMMENDATIONS_ALLOW_UNAUTHENTICATED, or with a weak one outside the local stack."""
    import uvloop

    if not settings.recommendations_api_tokens:
        if not settings.recommendations_allow_unauthenticated:
            raise WeakSecretError(
                "RECOMMENDATIONS_API_TOKENS is not set: set it (callers send "
                "`Authorization: Bearer <token>`), or set RECOMMENDATIONS_ALLOW_UNAUTHENTICATED="
                "true to serve anyone who reaches the port"
            )
        log.warning("RECOMMENDATIONS_ALLOW_UNAUTHENTICATED: the API answers anyone")
    refuse_weak_secrets(settings.local_stack, settings.secrets())
    app = create_app(settings)
    http_routes.serve_beside(
        app,
        internal_app(app),
        settings.recommendations_internal_host,
        settings.recommendations_internal_port,
    )
    log.info(
        "recommendations listening",
        extra={
            "port": settings.recommendations_port,
            "internal_port": settings.recommendations_internal_port,
        },
    )
    web.run_app(
        app,
        host=settings.recommendations_host,
        port=settings.recommendations_port,
        print=None,
        access_log=None,
        loop=uvloop.new_event_loop(),
    )
