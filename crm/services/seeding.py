"""Seeding a new clinic from the presets of its kind (crm.presets): outcome codes, follow-up
rules and KPI targets, named in its language, all editable afterwards. Run at provisioning as
steps of tenants.presets.PRESET_STEPS."""

from ..models import Department, FollowUpRule, KpiTarget, OutcomeCode, RuleStep
from ..presets import OUTCOME_CODES, RULES


def _pick(pair: tuple[str, str], locale: str) -> str:
    return pair[0] if locale.startswith("zh") else pair[1]


def outcome_codes_seed(*, kind: str, locale: str) -> None:
    OutcomeCode.objects.bulk_create(
        [
            OutcomeCode(code=code, category=category, label=_pick((zh, en), locale), position=i)
            for i, (code, category, zh, en) in enumerate(OUTCOME_CODES)
        ],
        ignore_conflicts=True,
    )


def rules_seed(*, kind: str, locale: str) -> None:
    if FollowUpRule.objects.exists():
        return
    # A step's team is named by its department's code (departments_seed ran before).
    teams = {d.code: d for d in Department.objects.all()}
    for position, preset in enumerate(RULES.get(kind, [])):
        spec = dict(preset)
        steps = spec.pop("steps")
        rule = FollowUpRule.objects.create(
            name=_pick(spec.pop("name"), locale), position=position, **spec
        )
        RuleStep.objects.bulk_create(
            [
                RuleStep(
                    rule=rule,
                    position=i,
                    **{
                        **step,
                        "name": _pick(step["name"], locale),
                        "team": teams.get(step.get("team")),
                    },
                )
                for i, step in enumerate(steps)
            ]
        )


# DESIGN.md §5.4: hospitals aim at follow-up ≥ 80 % and satisfaction ≥ 95 %; the others start
# from the same follow-up rate and a satisfaction target a clinic can reach in its first year.
KPI_TARGETS = {
    "hospital": {"follow_up_rate": 80, "satisfaction_rate": 95, "complaints_on_time": 95},
    "aesthetic": {"follow_up_rate": 80, "satisfaction_rate": 90, "complaints_on_time": 95},
    "dental": {"follow_up_rate": 80, "satisfaction_rate": 90, "complaints_on_time": 95},
    "service": {"follow_up_rate": 80, "satisfaction_rate": 90, "complaints_on_time": 95},
}


def kpi_targets_seed(*, kind: str, locale: str) -> None:
    """Preset step: the clinic-wide targets of its kind (editable under Reports)."""

    if KpiTarget.objects.exists():
        return
    KpiTarget.objects.bulk_create(
        KpiTarget(metric=metric, target=value)
        for metric, value in KPI_TARGETS.get(kind, KPI_TARGETS["service"]).items()
    )
