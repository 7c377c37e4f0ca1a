"""`pipeline personalize plan|apply`: the plan as JSON, or the apply report, on stdout."""

import sys

from provision.apply import ApplyError, apply_plan, build_client
from provision.plan import PlanError, build_plan
from provision.settings import PersonalizeSetupSettings
from schemas import load_rules
from schemas.rules import RulesError


def run_personalize(action: str) -> None:
    """Exit status: 0 done, 1 refused (the message says why) or differences found."""
    settings = PersonalizeSetupSettings()
    try:
        rules = load_rules(settings.streams_rules_path)
        if action == "plan":
            plan = build_plan(rules, settings.personalize_dataset_group_name)
            sys.stdout.write(plan.to_json().decode() + "\n")
            return
        report = apply_plan(build_client(settings), rules, settings)
    except (RulesError, PlanError, ApplyError) as exc:
        raise SystemExit(f"personalize {action}: refused: {exc}") from None
    sys.stdout.write(report.to_json().decode() + "\n")
    if report.differences:
        raise SystemExit(
            f"personalize apply: {len(report.differences)} difference(s) between the plan and "
            "the dataset group; nothing was replaced (see 'differences' and their 'remedy')"
        )
