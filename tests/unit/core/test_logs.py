"""core/logs.py: every line a service writes to stderr is one JSON log entry."""

import subprocess
import sys

from tests.fixtures.log_format import parsed_lines

PROBE = """
import logging, warnings
from core.logs import configure_logging

configure_logging("probe", "INFO")
logging.getLogger("probe.part").info("batch done", extra={"events": 3})
warnings.warn("a library's deprecation notice")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("probe.part").exception("failed")
logging.getLogger("probe.part").debug("below the level")
"""


def test_log_records_warnings_and_tracebacks_are_json_lines() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    done, warned, failed = parsed_lines(result.stderr, "probe")
    assert (done["logger"], done["msg"], done["events"], done["level"]) == (
        "probe.part",
        "batch done",
        3,
        "info",
    )
    assert warned["logger"] == "py.warnings" and warned["level"] == "warning"
    assert "a library's deprecation notice" in warned["msg"]
    assert failed["level"] == "error" and "ZeroDivisionError" in failed["exc"]
    assert done["ts"].endswith("Z")
