"""Encounter kinds defined by the clinic (issue 19 §2): the built-in ones as presets, the
clinic's own added on the settings page; rules, imports, reports and targets accept them; a
kind that encounters use is neither renamed nor deleted (the count says why); archived kinds
are no longer offered; another clinic sees none of them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from crm.models import (
    AuditEntry,
    Contact,
    Encounter,
    EncounterKind,
    FollowUpRule,
    FollowUpTask,
    KpiTarget,
)
from crm.registers import KIND_SYNONYMS
from crm.reporting.report import report_build
from crm.reporting.targets import kpi_targets_save
from crm.selectors import contact_return_visit_booked
from crm.selectors_kinds import kind_labels, kind_lookup
from crm.services import kinds
from crm.services.planning import encounters_plan
from crm.services.rules import RuleValues, rule_save
from tests.crm.conftest import in_english
from tests.crm.test_imports import csv_bytes, job_id, run_import, upload
from tests.crm.test_kpi import NOVEMBER, _targets_post, at
from tests.factories import ContactFactory, EncounterFactory, RuleFactory

S = FollowUpTask.Status
# Every clinic starts with the built-in kinds, in Encounter.Kind's order.
BUILTIN = list(Encounter.Kind.values)
# A new hires' list, imported on 24 November: two rows of the clinic's kind (by its name and
# its code), one of a kind nobody defined.
HEADERS = ["姓名", "编号", "日期", "电话", "类型"]
pytestmark = pytest.mark.now("2026-11-24 09:00")


def new_hire(tenant, in_tenant, **extra) -> EncounterKind:
    with in_tenant(tenant):
        return kinds.encounter_kind_add(name="新员工", **extra)


def kind_page(client):
    return client.get("/rules/kinds/")


def message_texts(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


# --- The presets --------------------------------------------------------------------------------


@pytest.mark.parametrize("tenant_fixture", ["tenant_a", "tenant_b"])
def test_every_clinic_starts_with_the_built_in_kinds(tenant_fixture, request, in_tenant):
    with in_tenant(request.getfixturevalue(tenant_fixture)):
        rows = list(EncounterKind.objects.values_list("code", "builtin", "books_return_visit"))
        with translation.override("zh-hans"):
            labels = kind_labels()
    assert rows == [(code, True, code == "appointment") for code in BUILTIN]
    assert (labels["discharge"], labels["appointment"]) == ("出院", "已预约复诊")


def test_seeding_the_kinds_again_changes_nothing(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        EncounterKind.objects.filter(code="sale").update(archived=True)
        kinds.encounter_kinds_seed(kind="hospital", locale="zh-hans")
        assert EncounterKind.objects.count() == len(BUILTIN)
        assert EncounterKind.objects.get(code="sale").archived


# --- The settings page -----------------------------------------------------------------------


def test_an_admin_adds_a_kind_and_sees_it_listed_with_its_use(admin_client_a, tenant_a, in_tenant):
    with translation.override("zh-hans"):
        added = admin_client_a.post("/rules/kinds/", {"name": "新员工"})
    assert added.status_code == 302
    in_english(admin_client_a)
    english = admin_client_a.post("/rules/kinds/", {"name": "Gym trial class"})
    typed = admin_client_a.post("/rules/kinds/", {"name": "离职员工", "code": "leaver"})
    assert english.status_code == typed.status_code == 302
    with in_tenant(tenant_a):
        hire = EncounterKind.objects.get(name="新员工")
        # A Chinese name slugifies to nothing: the kind is numbered.
        assert (hire.code, hire.builtin, hire.archived) == ("k-9", False, False)
        assert EncounterKind.objects.get(name="Gym trial class").code == "gym-trial-class"
        assert EncounterKind.objects.get(name="离职员工").code == "leaver"
        EncounterFactory(kind="k-9")
        assert set(
            AuditEntry.objects.filter(action="encounter_kind_added").values_list(
                "object_id", flat=True
            )
        ) == {"k-9", "gym-trial-class", "leaver"}
    page = kind_page(admin_client_a)
    assert [(use.kind.code, use.encounters) for use in page.context["kinds"]][-3:] == [
        ("k-9", 1),
        ("gym-trial-class", 0),
        ("leaver", 0),
    ]
    text = page.content.decode()
    assert "Encounter kinds" in text and "新员工" in text and "Return visit booked" in text
    with translation.override("zh-hans"):
        admin_client_a.cookies["django_language"] = "zh-hans"
        chinese = kind_page(admin_client_a).content.decode()
    assert "就诊类型" in chinese and "已预约复诊" in chinese


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"name": "  "}, "name", "This field is required."),
        ({"name": "NEW HIRE"}, "name", "Another kind is called “New hire” already."),
        ({"name": "discharge"}, "name", "Another kind is called “Discharge” already."),
        ({"name": "出院"}, "name", "Another kind is called “Discharge” already."),
        ({"name": "Leaver", "code": "Bad code!"}, "code", "A code of at most 20 lower-case"),
        ({"name": "Leaver", "code": "sale"}, "code", "Another kind has this code already."),
    ],
)
def test_a_bad_name_or_code_is_refused_and_nothing_is_written(
    admin_client_a, tenant_a, in_tenant, values, field, message
):
    with in_tenant(tenant_a):
        kinds.encounter_kind_add(name="New hire")
        before = list(EncounterKind.objects.values_list("code", "name"))
    refused = in_english(admin_client_a).post("/rules/kinds/", values)
    assert refused.status_code == 400
    errors = refused.context["form"].errors
    assert any(error.startswith(message) for error in errors.get(field, [])), errors
    with in_tenant(tenant_a):
        assert list(EncounterKind.objects.values_list("code", "name")) == before
        assert AuditEntry.objects.filter(action="encounter_kind_added").count() == 1


def test_a_used_kind_is_neither_renamed_nor_deleted_and_the_count_says_why(
    admin_client_a, tenant_a, in_tenant
):
    hire = new_hire(tenant_a, in_tenant)
    with in_tenant(tenant_a):
        for _ in range(23):
            EncounterFactory(kind=hire.code)
    in_english(admin_client_a)
    renamed = admin_client_a.post(f"/rules/kinds/{hire.pk}/", {"name": "新入职员工"})
    assert renamed.status_code == 400
    assert "23 encounters use this kind: it cannot be renamed." in renamed.content.decode()
    deleted = admin_client_a.post(f"/rules/kinds/{hire.pk}/delete/", follow=True)
    assert "23 encounters use this kind: it cannot be deleted." in deleted.content.decode()
    with in_tenant(tenant_a):
        hire.refresh_from_db()
        assert (hire.name, hire.archived) == ("新员工", False)
        assert Encounter.objects.filter(kind=hire.code).count() == 23
        assert not AuditEntry.objects.filter(
            action__in=["encounter_kind_changed", "encounter_kind_deleted"]
        ).exists()
    # A built-in kind in use is held the same way (the hospital's discharges).
    with in_tenant(tenant_a):
        EncounterFactory(kind="discharge")
        discharge = EncounterKind.objects.get(code="discharge")
        with pytest.raises(ValidationError) as refused:
            kinds.encounter_kind_change(kind=discharge, name="住院出院", books_return_visit=False)
        assert refused.value.code == "in_use" and refused.value.params == {"count": 1}
        discharge.refresh_from_db()
        assert discharge.name == ""


def test_an_unused_kind_is_renamed_then_deleted_with_audit_entries(
    admin_client_a, tenant_a, in_tenant
):
    hire = new_hire(tenant_a, in_tenant)
    assert (
        admin_client_a.post(
            f"/rules/kinds/{hire.pk}/", {"name": "新入职员工", "books_return_visit": "on"}
        ).status_code
        == 302
    )
    with in_tenant(tenant_a):
        hire.refresh_from_db()
        assert (hire.name, hire.code, hire.books_return_visit) == ("新入职员工", "k-9", True)
    assert admin_client_a.post(f"/rules/kinds/{hire.pk}/delete/").status_code == 302
    with in_tenant(tenant_a):
        assert not EncounterKind.objects.filter(pk=hire.pk).exists()
        assert list(
            AuditEntry.objects.filter(action__startswith="encounter_kind")
            .order_by("pk")
            .values_list("action", "object_id", "detail")
        ) == [
            ("encounter_kind_added", "k-9", {}),
            ("encounter_kind_changed", "k-9", {"fields": ["name", "books_return_visit"]}),
            ("encounter_kind_deleted", "k-9", {}),
        ]


def test_a_kind_a_rule_names_is_not_deleted(tenant_a, in_tenant):
    hire = new_hire(tenant_a, in_tenant)
    with in_tenant(tenant_a):
        RuleFactory(match_kinds=[hire.code])
        with pytest.raises(ValidationError):
            kinds.encounter_kind_delete(kind=hire)
        assert EncounterKind.objects.filter(pk=hire.pk).exists()


def test_an_archived_kind_is_no_longer_offered_but_stays_valid(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    hire = new_hire(tenant_a, in_tenant)
    with in_tenant(tenant_a):
        old = EncounterFactory(kind=hire.code)
        rule = RuleFactory(name="Old hires", match_kinds=[hire.code])
    assert (
        admin_client_a.post(f"/rules/kinds/{hire.pk}/archive/", {"archived": "1"}).status_code
        == 302
    )
    with in_tenant(tenant_a):
        hire.refresh_from_db()
        assert hire.archived
        assert kind_labels()[hire.code] == "新员工"  # old encounters still show their kind
    new_rule = admin_client_a.get("/rules/new/").context["form"]
    assert hire.code not in dict(new_rule.fields["match_kinds"].choices)
    # The rule that names it keeps it when edited.
    edited = admin_client_a.get(f"/rules/{rule.pk}/").context["form"]
    assert hire.code in dict(edited.fields["match_kinds"].choices)
    # An import may not name it any more.
    pk = job_id(
        upload(admin_client_a, csv_bytes([["张三", "1", "2026-11-20", "", "新员工"]], HEADERS))
    )
    job = admin_client_a.get(f"/imports/{pk}/").context["job"]
    mapping = {f"col-{i}": job.mapping.get(h, "") for i, h in enumerate(job.headers)}
    admin_client_a.post(f"/imports/{pk}/map/", mapping)
    errors = admin_client_a.get(f"/imports/{pk}/").context["errors"]
    assert [e["column"] for e in errors] == ["类型"]
    assert admin_client_a.get(f"/contacts/{old.contact_id}/").status_code == 200
    # Offered again.
    admin_client_a.post(f"/rules/kinds/{hire.pk}/archive/", {"archived": "0"})
    with in_tenant(tenant_a):
        hire.refresh_from_db()
        assert not hire.archived


def test_only_administrators_manage_kinds(agent_client_a, tenant_a, in_tenant):
    hire = new_hire(tenant_a, in_tenant)
    assert agent_client_a.get("/rules/kinds/").status_code == 403
    assert agent_client_a.post("/rules/kinds/", {"name": "x"}).status_code == 403
    assert agent_client_a.post(f"/rules/kinds/{hire.pk}/delete/").status_code == 403
    with in_tenant(tenant_a):
        assert EncounterKind.objects.filter(pk=hire.pk).exists()


# --- Rules and imports -----------------------------------------------------------------------


def test_a_rule_for_a_clinic_kind_plans_follow_ups_for_its_imported_encounters(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    hire = new_hire(tenant_a, in_tenant)
    form = admin_client_a.get("/rules/new/").context["form"]
    assert (hire.code, "新员工") in form.fields["match_kinds"].choices
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        rule = rule_save(
            rule_id=None,
            values=RuleValues(name="New hires, day 3", match_kinds=[hire.code]),
            steps=[],
        )
        RuleFactory(name="Discharges", match_kinds=["discharge"])
        rule.steps.create(name="Day 3", offset_days=3, due_days=3)
    rows = [
        ["张三", "E1", "2026-11-20", "13800138001", "新员工"],
        ["李四", "E2", "2026-11-21", "13800138002", hire.code.upper()],
        ["王五", "E3", "2026-11-21", "13800138003", "外星人"],
    ]
    # The import runs as a task, which writes in the clinic's language (zh-Hans), whatever
    # the uploader's.
    with translation.override("en"):
        pk = run_import(
            in_english(admin_client_a), csv_bytes(rows, HEADERS), django_capture_on_commit_callbacks
        )
        errors = admin_client_a.get(f"/imports/{pk}/").context["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(4, "类型")]
    assert errors[0]["message"].startswith("未知类型“外星人”。本机构的类型：出院, ")
    assert errors[0]["message"].endswith(", 新员工。")
    with in_tenant(tenant_a):
        encounters = Encounter.objects.order_by("occurred_at")
        assert [e.kind for e in encounters] == [hire.code, hire.code]
        assert set(FollowUpTask.objects.values_list("rule__name", flat=True)) == {
            "New hires, day 3"
        }
        assert FollowUpTask.objects.count() == 2
        # The unknown kind's row left nothing behind, not even its contact.
        assert Encounter.objects.count() == 2
        assert not Contact.objects.named("王五").exists()


def test_the_import_matches_built_in_kinds_by_either_language_and_synonyms(tenant_a, in_tenant):
    hire = new_hire(tenant_a, in_tenant)
    with in_tenant(tenant_a), translation.override("en"):
        lookup = kind_lookup(synonyms=KIND_SYNONYMS)
    assert [lookup.find(text) for text in ("出院", "Discharge", "SURGERY", "购车", " 新员工 ")] == [
        "discharge",
        "discharge",
        "surgery",
        "sale",
        hire.code,
    ]
    assert lookup.find("外星人") is None
    assert lookup.booking == {"appointment"}


def test_a_rule_naming_a_kind_the_clinic_does_not_have_is_refused(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        before = FollowUpRule.objects.count()
        with pytest.raises(ValidationError) as refused:
            rule_save(
                rule_id=None, values=RuleValues(name="x", match_kinds=["spaceship"]), steps=[]
            )
        assert "spaceship" in str(refused.value)
        assert FollowUpRule.objects.count() == before


def test_a_clinic_kind_that_books_a_return_visit_holds_follow_ups_back(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        booked = kinds.encounter_kind_add(name="Service booked", books_return_visit=True)
        FollowUpRule.objects.update(active=False)
        RuleFactory(name="Every kind", match_kinds=[])
        contact = ContactFactory()
        ahead = EncounterFactory(
            contact=contact, kind=booked.code, occurred_at=timezone.now() + timedelta(days=5)
        )
        encounters_plan([ahead.pk])
        # A rule for every kind does not follow up a booking …
        assert not FollowUpTask.objects.filter(encounter=ahead).exists()
        # … and while it lies ahead, the contact is not sent follow-up messages or surveys.
        assert contact_return_visit_booked(contact.pk, now=timezone.now())
        assert not contact_return_visit_booked(ContactFactory().pk, now=timezone.now())


# --- Reports and targets ---------------------------------------------------------------------


def test_the_report_shows_a_clinic_kind_against_its_own_target(admin_client_a, tenant_a, in_tenant):
    hire = new_hire(tenant_a, in_tenant)
    with in_tenant(tenant_a):
        FollowUpRule.objects.update(active=False)
        RuleFactory(name="New hires", match_kinds=[hire.code])
        hires = [EncounterFactory(kind=hire.code, occurred_at=at(day)) for day in (10, 11)]
        encounters_plan([e.pk for e in hires])
        hires[0].tasks.update(status=S.COMPLETED, reached_in_window=True, attempts_count=1)
    # The targets page offers the clinic's kind.
    saved = _targets_post(admin_client_a, **{f"follow_up_rate__clinic__{hire.code}": "70"})
    assert saved.status_code == 302
    with in_tenant(tenant_a):
        assert KpiTarget.objects.get(encounter_kind=hire.code).target == Decimal(70)
        with translation.override("zh-hans"):
            rows = {row["label"]: row for row in report_build(NOVEMBER).kinds}
    assert (rows["新员工"]["figures"].eligible, rows["新员工"]["figures"].follow_up_rate) == (
        2,
        Decimal(50),
    )
    assert rows["新员工"]["targets"]["follow_up_rate"] == {"target": Decimal(70), "missed": True}


def test_a_target_for_a_kind_the_clinic_does_not_have_is_refused(tenant_a, tenant_b, in_tenant):
    hire = new_hire(tenant_a, in_tenant)
    with in_tenant(tenant_b), pytest.raises(ValidationError):
        kpi_targets_save(values={("follow_up_rate", None, hire.code): Decimal(70)})
    with in_tenant(tenant_b):
        assert not KpiTarget.objects.filter(encounter_kind=hire.code).exists()


# --- Another clinic ------------------------------------------------------------------------------


def test_another_clinic_cannot_see_change_or_use_a_clinics_kind(
    admin_client_a,
    admin_client_b,
    tenant_a,
    tenant_b,
    in_tenant,
    django_capture_on_commit_callbacks,
):
    hire = new_hire(tenant_a, in_tenant, code="new-hire")
    page = kind_page(admin_client_b)
    assert "新员工" not in page.content.decode()
    assert admin_client_b.get(f"/rules/kinds/{hire.pk}/").status_code == 404
    assert admin_client_b.post(f"/rules/kinds/{hire.pk}/delete/").status_code == 404
    assert (
        admin_client_b.post(f"/rules/kinds/{hire.pk}/archive/", {"archived": "1"}).status_code
        == 404
    )
    form = admin_client_b.get("/rules/new/").context["form"]
    assert "new-hire" not in dict(form.fields["match_kinds"].choices)
    rows = [["Ann", "E1", "2026-11-20", "", "new-hire"]]
    with translation.override("en"):
        pk = run_import(
            in_english(admin_client_b), csv_bytes(rows, HEADERS), django_capture_on_commit_callbacks
        )
        errors = admin_client_b.get(f"/imports/{pk}/").context["errors"]
    assert [e["column"] for e in errors] == ["类型"]
    with in_tenant(tenant_b):
        assert not Encounter.objects.exists()
        assert not EncounterKind.objects.filter(code="new-hire").exists()
    with in_tenant(tenant_a):
        hire.refresh_from_db()
        assert not hire.archived
