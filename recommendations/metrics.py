"""The recommendations service's Prometheus metrics, all defined here."""

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "recommendations_requests_total", "API requests, by route and HTTP status.", ["route", "status"]
)
CACHE = Counter(
    "recommendations_cache_lookups_total", "Cache lookups, by result (hit, miss).", ["result"]
)
INVALIDATIONS = Counter(
    "recommendations_cache_invalidations_total",
    "Users whose cached answers a strong interaction dropped.",
)
PERSONALIZE_DURATION = Histogram(
    "recommendations_personalize_duration_seconds",
    "GetRecommendations call latency, retries included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
