"""The CLI as a registry: each package's commands, imported only when asked for, and the dev
tools' commands refusing with a reason where the dev tools are not installed."""

import importlib
import importlib.util
import subprocess
import sys

import pytest

from pipeline import cli


def test_every_package_lists_exactly_the_commands_the_cli_names() -> None:
    for package in set(cli.COMMANDS.values()):
        named = {name for name, home in cli.COMMANDS.items() if home == package}
        listed = [c.name for c in importlib.import_module(package).commands]
        assert sorted(listed) == sorted(named), package


def test_no_package_has_a_module_that_would_replace_its_commands() -> None:
    """Importing a submodule `<package>.commands` would rebind the attribute the CLI reads to
    that module (as provision/commands.py once did, once any test had imported it)."""
    for package in set(cli.COMMANDS.values()):
        assert importlib.util.find_spec(f"{package}.commands") is None, package


def test_a_command_imports_its_own_service_only() -> None:
    """`pipeline ingest` (here refusing: no secret) loads neither Faust nor the dev tools."""
    probe = (
        "import sys\n"
        "from pipeline.cli import main\n"
        "try:\n"
        "    main(['ingest'])\n"
        "except SystemExit as exc:\n"
        "    assert 'ingest: refusing to start' in str(exc), exc\n"
        "print(sorted(m for m in ('faust', 'devtools', 'streams', 'sinks') if m in sys.modules))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_without_the_dev_tools_their_commands_say_why_and_the_rest_work(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "devtools", None)  # `import devtools` fails, as if absent
    for name in ("emulator", "dev"):
        with pytest.raises(SystemExit) as refused:
            cli.main([name])
        assert str(refused.value.code) == f"{name}: {cli.NO_DEV_TOOLS}"
    with pytest.raises(SystemExit) as helped:
        cli.main(["--help"])
    assert helped.value.code == 0
    listed = capsys.readouterr().out
    assert "emulator" in listed and "(not installed)" in listed
    assert "the webhook (HTTP -> raw topic)" in listed
    monkeypatch.delenv("AMPLITUDE_WEBHOOK_SECRET", raising=False)
    with pytest.raises(SystemExit) as ingest:
        cli.main(["ingest"])
    assert "ingest: refusing to start" in str(ingest.value.code)  # its own refusal


def test_a_missing_module_inside_a_service_is_not_mistaken_for_absent_dev_tools(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "devtools", None)
    monkeypatch.setitem(cli.COMMANDS, "emulator", "no_such_package_here")
    with pytest.raises(ModuleNotFoundError):
        cli.command("emulator")
