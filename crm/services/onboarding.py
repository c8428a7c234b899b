"""The set-up checklist of a new clinic: started by the last preset step, put away (and
brought back) by its administrators. Its steps are read from the clinic's data
(crm.selectors_home), so nothing here ticks a step."""

from saas import clock

from ..models import Onboarding


def onboarding_start(*, kind: str, locale: str) -> None:
    """Preset step, the last one: what the preset made before this instant is the preset's,
    what changes after it is the clinic's own set-up."""
    Onboarding.objects.get_or_create(defaults={"started_at": clock.now()})


def onboarding_dismiss(*, actor) -> bool:
    """Put the checklist away for the whole clinic. False when the clinic has none."""
    return bool(
        Onboarding.objects.filter(dismissed_at__isnull=True).update(
            dismissed_at=clock.now(), dismissed_by=actor
        )
    )


def onboarding_restore(*, actor) -> bool:
    """Show the checklist again (it is ticked from the data, so nothing was lost)."""
    return bool(
        Onboarding.objects.filter(dismissed_at__isnull=False).update(
            dismissed_at=None, dismissed_by=None
        )
    )
