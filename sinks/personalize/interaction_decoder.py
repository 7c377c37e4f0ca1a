"""Moved: the interaction record's decoder is the contract's msgspec twin, in schemas/.

Only `client.py` still imports `InteractionFields` from here; it belongs in
schemas/interaction_codec.py (delete this module once client.py imports it from `schemas`).
"""

from schemas import InteractionFields

__all__ = ["InteractionFields"]
