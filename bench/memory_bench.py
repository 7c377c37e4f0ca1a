"""Memory of ingest's HMAC replay memory (ingest/signatures.py) when full at its default bound
(INGEST_HMAC_REPLAY_MEMORY accepted signatures), measured with tracemalloc.

Run: .venv/bin/python bench/memory_bench.py
"""

import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.settings import IngestSettings
from ingest.signatures import SignatureChecker, sign


def replay_memory() -> tuple[int, float]:
    size = IngestSettings.model_fields["ingest_hmac_replay_memory"].default
    key, now = b"k" * 32, int(time.time())
    requests = [(b"%d" % n, sign(key, now, b"%d" % n)) for n in range(size)]
    checker = SignatureChecker(key, 300, size)
    tracemalloc.start()
    for body, signature in requests:
        assert checker.check(str(now), signature, body)[0] is None
    used = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return len(checker), used


if __name__ == "__main__":
    entries, used = replay_memory()
    print(
        f"HMAC replay memory: {entries} entries, {used / 1e6:.1f} MB, {used / entries:.0f} B each"
    )
