"""No service process outlives the test run or `make run` that started it, even when that
is killed outright (SIGKILL runs no clean-up code: the kernel's parent-death signal does it)."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from devtools.kafka_broker import free_port
from tests.fixtures.kafka_fixture import wait_for

_PARENT = """
import sys, time
from pathlib import Path
from tests.fixtures.service_process import ServiceProcess
port = {port}
child = ServiceProcess(
    "emulator", {{"EMULATOR_PORT": str(port)}}, f"http://127.0.0.1:{{port}}/healthz",
    Path({log!r}),
).start()
print(child.process.pid, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes (its parent, init, reaps it).
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ", 1)[1][0] != "Z"


def _kill_the_parent_and_await_its_child(parent_script: str) -> None:
    """Run `parent_script` (it prints its child's pid), SIGKILL it, and wait for the child to
    go; a child that stays is killed all the same, and the test fails."""
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_script],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
    )
    child = 0
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        wait_for(lambda: not _alive(child), 30, "the child to go with its parent")
    finally:
        parent.kill()
        parent.wait()
        if child and _alive(child):
            os.kill(child, signal.SIGKILL)


def test_a_service_dies_with_the_killed_process_that_started_it(tmp_path: Path) -> None:
    log = str(tmp_path / "child.log")
    _kill_the_parent_and_await_its_child(textwrap.dedent(_PARENT.format(port=free_port(), log=log)))


_STUBBORN_PARENT = """
import subprocess, sys, time
from devtools.kafka_broker import die_with_parent
child = subprocess.Popen(
    [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
     "print(flush=True); time.sleep(600)"],
    stdout=subprocess.PIPE, preexec_fn=die_with_parent,
)
child.stdout.readline()  # its SIGTERM is ignored from now on
print(child.pid, flush=True)
time.sleep(600)
"""


def test_a_child_whose_stop_would_hang_dies_with_its_killed_parent() -> None:
    """As a stream worker with batches in flight does: its graceful stop waits for the broker,
    which died with the same parent."""
    _kill_the_parent_and_await_its_child(_STUBBORN_PARENT)
