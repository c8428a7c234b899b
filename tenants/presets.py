"""What a new tenant of each kind starts with. Each step runs inside the new tenant's schema
and takes the kind and locale; later issues append their steps (rules, surveys, outcome
codes, message templates, starter pages …) to PRESET_STEPS."""

from collections.abc import Callable

from cms.services import patient_site_prepare
from crm.services.kinds import encounter_kinds_seed
from crm.services.onboarding import onboarding_start
from crm.services.seeding import kpi_targets_seed, outcome_codes_seed, rules_seed
from crm.services.staff import departments_seed, roles_seed
from surveys.presets import feedback_settings_seed, surveys_seed

PresetStep = Callable[..., None]

PRESET_STEPS: list[PresetStep] = [
    roles_seed,
    encounter_kinds_seed,  # before the rules, which name kinds
    departments_seed,
    outcome_codes_seed,
    rules_seed,
    kpi_targets_seed,
    surveys_seed,  # after rules_seed: attaches surveys to the preset rules' steps
    feedback_settings_seed,
    patient_site_prepare,
    onboarding_start,  # last: what changes after it is the clinic's own set-up
]


def preset_apply(tenant) -> None:
    for step in PRESET_STEPS:
        step(kind=tenant.kind, locale=tenant.locale)
