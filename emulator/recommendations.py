"""GetRecommendations for the emulator, ranked from the PutEvents it received.

Not Personalize's models, but answers that react to the events just posted, which is what a
local run needs to show: users get popular items they have not interacted with; similar items
are the items most co-interacted (positively) by users who liked the given item.
"""

import uuid
from collections import defaultdict
from typing import Any


def rank(
    put_events: list[dict[str, Any]],
    user_id: str | None = None,
    item_id: str | None = None,
    count: int = 25,
) -> list[dict[str, Any]]:
    per_user: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for call in put_events:
        user = call.get("userId")
        if not user:
            continue  # anonymous sessions have no history to rank by
        for event in call["eventList"]:
            if "itemId" in event:
                per_user[user][event["itemId"]] += float(event.get("eventValue", 1.0))

    scores: dict[str, float] = defaultdict(float)
    if item_id is not None:
        for items in per_user.values():
            if items.get(item_id, 0) > 0:
                for other, value in items.items():
                    if other != item_id and value > 0:
                        scores[other] += value
    else:
        seen = set(per_user.get(user_id or "", {}))
        for items in per_user.values():
            for item, value in items.items():
                if item not in seen and value > 0:
                    scores[item] += value
    ranked = sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))[:count]
    top = ranked[0][1] if ranked else 1.0
    return [{"itemId": item, "score": round(value / top, 4)} for item, value in ranked]


def recommendation_id() -> str:
    """Personalize's recommendationId fits PutEvents' 40-character limit: so does ours."""
    return f"RID-{uuid.uuid4().hex}"
