"""Preset steps run at provisioning (tenants.presets.PRESET_STEPS): outcome codes and
follow-up rules for the tenant's kind, named in its language, all editable afterwards."""

from ..models import FollowUpRule, OutcomeCode, RuleStep
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
    for position, preset in enumerate(RULES.get(kind, [])):
        spec = dict(preset)
        steps = spec.pop("steps")
        rule = FollowUpRule.objects.create(
            name=_pick(spec.pop("name"), locale), position=position, **spec
        )
        RuleStep.objects.bulk_create(
            [
                RuleStep(rule=rule, position=i, **{**step, "name": _pick(step["name"], locale)})
                for i, step in enumerate(steps)
            ]
        )
