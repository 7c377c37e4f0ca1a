"""The committed Grafana dashboard is the one ops/grafana/build_dashboard.py generates."""

import importlib.util
import json
from pathlib import Path

OPS = Path(__file__).resolve().parents[2] / "ops" / "grafana"


def builder():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("build_dashboard", OPS / "build_dashboard.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_dashboard_is_current() -> None:
    committed = (OPS / "dashboards" / "pipeline.json").read_text()
    assert committed == builder().render(), "run: python ops/grafana/build_dashboard.py"


def test_every_panel_has_a_query_a_unit_and_a_description() -> None:
    panels = json.loads((OPS / "dashboards" / "pipeline.json").read_text())["panels"]
    assert len(panels) >= 12
    for panel in panels:
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
        assert panel["description"] and panel["fieldConfig"]["defaults"]["unit"], panel["title"]
