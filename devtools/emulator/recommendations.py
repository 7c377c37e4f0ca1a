"""GetRecommendations for the emulator, ranked from the PutEvents it received.

Not Personalize's models, but answers that follow the same rules the product relies on:
- an event counts with its type's weight in the latest solution's eventsConfig (types it does
  not name do not count, events below the type's eventValueThreshold do not count); with no
  such solution, every event counts 1, as every interaction trains with equal weight in
  Personalize. eventValue is never a weight. Weights are >= 0, so no event lowers an item and
  an event type left out of the solution (a negative one) never raises it;
- as in Personalize, items the user already interacted with can be recommended: leaving them
  out is a filter's job (devtools/emulator/filters.py);
- users get the most (weighted) popular items; similar items are the items most
  co-interacted by users who interacted (with weight) with the given item.
"""

import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Protocol


class Weighted(Protocol):
    weight: float
    threshold: float | None


def event_weight(weights: dict[str, Weighted] | None) -> Callable[[dict[str, Any]], float]:
    """What one PutEvents event counts for in training, under a solution's eventsConfig."""

    def weigh(event: dict[str, Any]) -> float:
        if weights is None:
            return 1.0
        config = weights.get(event["eventType"].lower())
        if config is None:
            return 0.0
        if config.threshold is not None:
            value = event.get("eventValue")
            if value is None or value < config.threshold:
                return 0.0
        return config.weight

    return weigh


def rank(
    put_events: list[dict[str, Any]],
    user_id: str | None = None,
    item_id: str | None = None,
    count: int = 25,
    weights: dict[str, Weighted] | None = None,
    keep: Callable[[str], bool] | None = None,
) -> list[dict[str, Any]]:
    """The top `count` items that `keep` (a filter, if any) lets through, best first."""
    weigh = event_weight(weights)
    per_user: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for call in put_events:
        user = call.get("userId")
        if not user:
            continue  # anonymous sessions have no history to rank by
        for event in call["eventList"]:
            if "itemId" in event:
                per_user[user][event["itemId"]] += weigh(event)

    scores: dict[str, float] = defaultdict(float)
    if item_id is not None:
        for items in per_user.values():
            if items.get(item_id, 0) > 0:
                for other, value in items.items():
                    if other != item_id and value > 0:
                        scores[other] += value
    else:
        for items in per_user.values():
            for item, value in items.items():
                if value > 0:
                    scores[item] += value
    kept = [(item, value) for item, value in scores.items() if keep is None or keep(item)]
    ranked = sorted(kept, key=lambda pair: (-pair[1], pair[0]))[:count]
    top = ranked[0][1] if ranked else 1.0
    return [{"itemId": item, "score": round(value / top, 4)} for item, value in ranked]


def recommendation_id() -> str:
    """Personalize's recommendationId fits PutEvents' 40-character limit: so does ours."""
    return f"RID-{uuid.uuid4().hex}"
