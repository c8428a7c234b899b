"""GET /api/v1/reports/followup: the KPI report as JSON, the same figures as the report page,
behind the key's "reports" scope, on the key's own clinic only."""

from crm.models import CallAttempt
from tests.api.conftest import ApiClient, make_key
from tests.crm.test_kpi import world  # noqa: F401  (known November data)

NOVEMBER = {"start": "2026-11-01", "end": "2026-11-30"}


def test_the_months_report_with_counts_and_rates(world, tenant_a, in_tenant):  # noqa: F811
    _, secret = make_key(tenant_a, in_tenant, scopes=("reports",))
    body = ApiClient(tenant_a, secret).get("/reports/followup", NOVEMBER).json()

    follow_up = body["total"]["follow_up"]
    assert (follow_up["eligible"], follow_up["attempted"], follow_up["followed_up"]) == (6, 4, 2)
    assert (follow_up["follow_up_rate"], follow_up["coverage_rate"]) == (33.33, 66.67)
    assert (follow_up["lost"], follow_up["loss_rate"], follow_up["timeliness"]) == (1, 16.67, 50.0)
    assert follow_up["unreachable"] == {
        "wrong_number": 1,
        "powered_off": 1,
        "never_attempted": 2,
    }
    assert body["total"]["satisfaction"]["satisfaction_rate"] is None  # nothing rated: null
    assert body["groups"] == [] and body["group_by"] is None


def test_grouped_by_department_agent_and_month(world, tenant_a, in_tenant):  # noqa: F811
    _, secret = make_key(tenant_a, in_tenant, scopes=("reports",))
    api = ApiClient(tenant_a, secret)
    by_department = api.get("/reports/followup", NOVEMBER | {"group_by": "department"}).json()
    [ward] = by_department["groups"]
    assert (ward["key"], ward["label"]) == (world["ward"].pk, world["ward"].name)
    assert ward["follow_up"]["eligible"] == 6 and ward["complaints"]["received"] == 0

    with in_tenant(tenant_a):
        agent = CallAttempt.objects.first().agent
    by_agent = api.get("/reports/followup", NOVEMBER | {"group_by": "agent"}).json()["groups"]
    assert [(g["key"], g["follow_up"]["eligible"]) for g in by_agent] == [(agent.pk, 4), (None, 2)]
    assert by_agent[0]["complaints"] is None  # complaints are not kept per agent

    autumn = {"start": "2026-10-01", "end": "2026-12-31", "group_by": "month"}
    months = api.get("/reports/followup", autumn).json()["groups"]
    assert [(g["key"], g["follow_up"]["eligible"]) for g in months] == [
        ("2026-10", 1),
        ("2026-11", 6),
        ("2026-12", 1),
    ]
    one_agent = api.get("/reports/followup", NOVEMBER | {"agent": agent.pk}).json()["total"]
    assert one_agent["follow_up"]["eligible"] == 4 and one_agent["complaints"] is None


def test_bad_periods_and_groupings_are_422_with_a_code(world, tenant_a, in_tenant):  # noqa: F811
    _, secret = make_key(tenant_a, in_tenant, scopes=("reports",))
    api = ApiClient(tenant_a, secret)
    backwards = api.get("/reports/followup", {"start": "2026-11-30", "end": "2026-11-01"})
    assert backwards.status_code == 422 and backwards.json()["code"] == "period_invalid"
    too_long = api.get("/reports/followup", {"start": "2020-01-01", "end": "2026-11-01"})
    assert too_long.status_code == 422 and too_long.json()["code"] == "period_invalid"
    assert api.get("/reports/followup", NOVEMBER | {"group_by": "bed"}).status_code == 422
    assert api.get("/reports/followup", {"start": "2026-13-01", "end": "x"}).status_code == 422


def test_the_reports_scope_is_needed(world, tenant_a, in_tenant):  # noqa: F811
    _, secret = make_key(tenant_a, in_tenant, scopes=("read", "write"))
    refused = ApiClient(tenant_a, secret).get("/reports/followup", NOVEMBER)
    assert refused.status_code == 403 and refused.json()["code"] == "scope_missing"


def test_another_clinics_key_sees_only_its_own_figures(
    world,  # noqa: F811
    tenant_a,
    tenant_b,
    in_tenant,
):
    _, secret_b = make_key(tenant_b, in_tenant, scopes=("reports",))
    # B's key on A's domain is refused; on B's own it reports B's (empty) month.
    assert ApiClient(tenant_a, secret_b).get("/reports/followup", NOVEMBER).status_code == 401
    own = ApiClient(tenant_b, secret_b).get("/reports/followup", NOVEMBER | {"group_by": "rule"})
    assert own.status_code == 200
    assert own.json()["total"]["follow_up"]["eligible"] == 0 and own.json()["groups"] == []
