"""Setting Personalize up from the rules: the plan (dataset, solution, filters) and its apply."""

from provision.plan import Plan, PlanError, build_plan
from provision.settings import PersonalizeSetupSettings

__all__ = ["PersonalizeSetupSettings", "Plan", "PlanError", "build_plan"]
