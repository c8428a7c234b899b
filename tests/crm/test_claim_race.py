"""Two agents press "open" on the same follow-up at the same moment, on their own
connections with real commits: exactly one of them gets it."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django_tenants.utils import tenant_context

from crm.models import Contact, FollowUpRule, FollowUpTask
from crm.services.followup import task_claim
from crm.services.planning import encounters_plan
from tenants.models import Tenant
from tests.conftest import ALPHA, committed
from tests.factories import EncounterFactory, RuleFactory, StaffFactory

pytestmark = pytest.mark.django_db


def _setup():
    with tenant_context(Tenant.objects.get(schema_name=ALPHA)):
        rule = RuleFactory(name="race-rule", match_kinds=["maintenance"])
        encounter = EncounterFactory(kind="maintenance")
        encounters_plan([encounter.pk])
        agents = [StaffFactory(email=f"race{i}@alpha.test", role="agent") for i in range(2)]
        return rule.pk, FollowUpTask.objects.get(encounter=encounter).pk, [a.pk for a in agents]


def _teardown(rule_id, task_id, agent_ids):
    from django.contrib.auth import get_user_model

    with tenant_context(Tenant.objects.get(schema_name=ALPHA)):
        task = FollowUpTask.objects.get(pk=task_id)
        contact_id, encounter = task.contact_id, task.encounter
        task.delete()
        encounter.delete()
        Contact.objects.filter(pk=contact_id).delete()
        FollowUpRule.objects.filter(pk=rule_id).delete()
        get_user_model().objects.filter(pk__in=agent_ids).delete()


def test_only_one_of_two_simultaneous_claims_wins():
    from django.contrib.auth import get_user_model

    rule_id, task_id, agent_ids = committed(_setup)
    try:
        start = threading.Barrier(2)
        outcomes: list = [None, None]

        def claim(index: int) -> None:
            try:
                with tenant_context(Tenant.objects.get(schema_name=ALPHA)):
                    agent = get_user_model().objects.get(pk=agent_ids[index])
                    task = FollowUpTask.objects.get(pk=task_id)
                    start.wait()
                    task_claim(task, agent)
                    outcomes[index] = "claimed"
            except ValidationError:
                outcomes[index] = "refused"
            finally:
                connection.close()

        threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(outcomes) == ["claimed", "refused"]
    finally:
        committed(_teardown, rule_id, task_id, agent_ids)
