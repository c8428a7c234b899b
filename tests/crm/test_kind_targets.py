"""Targets per kind of patient (issue 19 §1): a KPI target may name an encounter kind and a
department; the report shows each kind's figures against its own target (inpatients ≥ 80 %,
outpatient surgery ≥ 50 %); bad targets change nothing; another clinic sees none of it."""

import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import override
from openpyxl import load_workbook

from crm.models import FollowUpTask, KpiTarget
from crm.reporting.report import report_build
from crm.reporting.targets import kpi_targets_save
from crm.services.planning import encounters_plan
from tests.conftest import login
from tests.crm.conftest import in_english
from tests.crm.test_kpi import NOVEMBER, _targets_post, at, world  # noqa: F401  (world)
from tests.crm.test_report_exports import download, flat, pdf_text, rows
from tests.factories import EncounterFactory, RuleFactory, StaffFactory

S = FollowUpTask.Status


@pytest.fixture(autouse=True)
def _in_chinese():
    """The labels below are the clinic's (zh-Hans), whatever an earlier test left active."""
    with translation.override("zh-hans"):
        yield


@pytest.fixture
def kinds_world(world, tenant_a, in_tenant):  # noqa: F811
    """Beside `world`'s six November discharges of the ward (2 followed up, 33.33 %): two
    November surgeries of the ward, one followed up in its window (50.00 %); targets: the
    clinic's follow-up rate 80 %, discharges 80 %, surgery 50 %, the ward's surgery 60 %."""
    with in_tenant(tenant_a):
        KpiTarget.objects.all().delete()
        RuleFactory(name="Surgery day 3", match_kinds=["surgery"])
        surgeries = [
            EncounterFactory(kind="surgery", occurred_at=at(day), department=world["ward"])
            for day in (16, 17)
        ]
        encounters_plan([surgery.pk for surgery in surgeries])
        surgeries[0].tasks.update(status=S.COMPLETED, reached_in_window=True, attempts_count=1)
        kpi_targets_save(
            values={
                ("follow_up_rate", None, ""): Decimal(80),
                ("follow_up_rate", None, "discharge"): Decimal(80),
                ("follow_up_rate", None, "surgery"): Decimal(50),
                ("follow_up_rate", world["ward"].pk, "surgery"): Decimal(60),
            }
        )
        return world


def _by_label(rows):
    return {row["label"]: row for row in rows}


def test_each_kind_is_shown_against_its_own_target(kinds_world, tenant_a, in_tenant):
    ward = kinds_world["ward"]
    with in_tenant(tenant_a):
        report = report_build(NOVEMBER)
    rows = _by_label(report.kinds)

    assert list(rows) == ["出院", "手术", f"{ward.name} · 手术"]
    discharge, surgery, ward_surgery = rows.values()
    assert (discharge["figures"].eligible, discharge["figures"].follow_up_rate) == (
        6,
        Decimal("33.33"),
    )
    assert discharge["targets"]["follow_up_rate"] == {"target": Decimal(80), "missed": True}
    assert (surgery["figures"].eligible, surgery["figures"].follow_up_rate) == (2, Decimal(50))
    assert surgery["targets"]["follow_up_rate"] == {"target": Decimal(50), "missed": False}
    # The ward's own surgery target replaces the clinic's for the ward.
    assert ward_surgery["targets"]["follow_up_rate"] == {"target": Decimal(60), "missed": True}
    # The whole clinic's figure stays against the clinic's own target.
    assert report.targets["follow_up_rate"] == {"target": Decimal(80), "missed": True}


def test_a_kind_without_a_target_is_held_to_the_figures_target(kinds_world, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        KpiTarget.objects.filter(encounter_kind="discharge").delete()
        KpiTarget.objects.filter(metric="follow_up_rate", encounter_kind="").update(target=30)
        rows = _by_label(report_build(NOVEMBER).kinds)
    assert rows["出院"]["targets"]["follow_up_rate"] == {"target": Decimal(30), "missed": False}


def test_a_departments_report_holds_its_kinds_to_the_departments_target(
    kinds_world, tenant_a, in_tenant
):
    from crm.reporting.period import Scope

    with in_tenant(tenant_a):
        report = report_build(NOVEMBER, Scope(department=kinds_world["ward"].pk))
    rows = _by_label(report.kinds)
    assert list(rows) == ["出院", "手术"]
    assert rows["手术"]["targets"]["follow_up_rate"] == {"target": Decimal(60), "missed": True}


def test_the_report_page_and_pdf_show_the_kinds(kinds_world, client_a, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        StaffFactory(email="kind-sup@alpha.test", role="supervisor")
    login(client_a, "kind-sup@alpha.test")
    page = in_english(client_a).get("/reports/?month=2026-11").content.decode()
    table = page[page.index('id="kpi-kinds"') :]
    table = table[: table.index("</table>")]
    assert "Surgery" in table and "Discharge" in table
    assert "below target ≥ 80 %" in table and "target ≥ 50 %" in table
    text = pdf_text(download(client_a, "/reports/export.pdf?month=2026-11", "en"))
    assert flat("By kind of patient") in text and flat("≥ 50.00 %") in text
    chinese = pdf_text(download(client_a, "/reports/export.pdf?month=2026-11", "zh-hans"))
    assert flat("按患者类别") in chinese


def test_the_workbook_has_the_kinds_against_their_targets(
    kinds_world, client_a, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        StaffFactory(email="kind-sup2@alpha.test", role="supervisor")
    login(client_a, "kind-sup2@alpha.test")
    book = load_workbook(
        io.BytesIO(download(client_a, "/reports/export.xlsx?month=2026-11", "en").content)
    )
    sheet = book["By kind of patient"]
    ward = kinds_world["ward"].name
    assert rows(sheet) == [
        (
            "Kind of patient",
            "Eligible",
            "Followed up",
            "Follow-up rate",
            "Target",
            "Timeliness",
            "Target",
        ),
        ("Discharge", 6, 2, 0.3333, 0.8, 0.5, None),
        ("Surgery", 2, 1, 0.5, 0.5, 1, None),
        (f"{ward} · Surgery", 2, 1, 0.5, 0.6, 1, None),
    ]
    assert sheet["D2"].font.color.rgb.endswith("C00000")  # below its target: red


def test_an_admin_sets_a_kinds_target_on_the_targets_page(world, tenant_a, in_tenant, client_a):  # noqa: F811
    ward = world["ward"].pk
    with in_tenant(tenant_a):
        StaffFactory(email="kind-admin@alpha.test", role="admin")
    login(client_a, "kind-admin@alpha.test")
    page = in_english(client_a).get("/reports/targets/")
    assert 'id="kpi-kind-targets"' in page.content.decode()
    saved = _targets_post(
        client_a,
        follow_up_rate__clinic__surgery="50",
        **{f"follow_up_rate__{ward}__discharge": "85"},
    )
    assert saved.status_code == 302
    with in_tenant(tenant_a):
        kinds = set(
            KpiTarget.objects.exclude(encounter_kind="").values_list(
                "metric", "department_id", "encounter_kind", "target"
            )
        )
    assert kinds == {
        ("follow_up_rate", None, "surgery", Decimal("50.00")),
        ("follow_up_rate", ward, "discharge", Decimal("85.00")),
    }
    # Emptied, it is removed (the kind is held to the figure's target again).
    _targets_post(client_a, follow_up_rate__clinic__surgery="")
    with in_tenant(tenant_a):
        assert not KpiTarget.objects.filter(encounter_kind="surgery").exists()


def test_a_kinds_target_out_of_range_saves_nothing(world, tenant_a, in_tenant, client_a):  # noqa: F811
    with in_tenant(tenant_a):
        StaffFactory(email="kind-admin2@alpha.test", role="admin")
        before = set(KpiTarget.objects.values_list("metric", "department_id", "target"))
    login(client_a, "kind-admin2@alpha.test")
    refused = _targets_post(
        client_a, follow_up_rate__clinic__surgery="150", follow_up_rate__clinic="70"
    )
    assert refused.status_code == 200
    assert refused.context["form"].errors["follow_up_rate__clinic__surgery"]
    with in_tenant(tenant_a):
        assert set(KpiTarget.objects.values_list("metric", "department_id", "target")) == before
        assert not KpiTarget.objects.exclude(encounter_kind="").exists()


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (("nps", None, "surgery"), "Only the follow-up rate and timeliness"),
        (("follow_up_rate", None, "spaceship"), "Unknown kind of patient: spaceship."),
        (("speed", None, ""), "Unknown figure: speed."),
    ],
)
def test_a_bad_target_is_refused_with_the_reason_and_nothing_is_written(
    tenant_a, in_tenant, key, message
):
    with in_tenant(tenant_a), override("en"):
        before = set(KpiTarget.objects.values_list("metric", "department_id", "target"))
        with pytest.raises(ValidationError) as refused:
            kpi_targets_save(
                values={("timeliness", None, "surgery"): Decimal(40), key: Decimal(50)}
            )
        after = set(KpiTarget.objects.values_list("metric", "department_id", "target"))
    assert message in " ".join(refused.value.messages)
    assert after == before


def test_another_clinic_sees_none_of_the_kinds_targets(
    kinds_world, tenant_b, in_tenant, admin_client_b
):
    with in_tenant(tenant_b):
        assert not KpiTarget.objects.exclude(encounter_kind="").exists()
        assert report_build(NOVEMBER).kinds == []
    page = admin_client_b.get("/reports/targets/")
    assert all(
        field.initial is None
        for name, field in page.context["form"].fields.items()
        if name.count("__") == 2
    )
