"""Survey invitations once sent: what the link's opening records. Making and finding links
is surveys.links; neither imports crm, so crm's outreach may use both."""

from django.db import connection, transaction

from saas import clock

from ..models import SurveyInvitation


def invitation_opened(invitation: SurveyInvitation, *, now=None) -> None:
    """Note when a link was first opened (the open rate of a survey). Without waiting for the
    disk: losing this timestamp in a crash costs nothing, and the page is what patients
    wait for."""
    if invitation.opened_at is not None:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        SurveyInvitation.objects.filter(pk=invitation.pk, opened_at__isnull=True).update(
            opened_at=now or clock.now()
        )
