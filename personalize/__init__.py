"""Setting Personalize up from the rules: the plan (dataset, solution, filters) and its apply."""

from personalize.plan import Plan, PlanError, build_plan
from personalize.settings import PersonalizeSetupSettings

__all__ = ["PersonalizeSetupSettings", "Plan", "PlanError", "build_plan"]
