"""The department's monthly loop (issue 19 §4): the head and the head nurse sign off their
department's register of an ended month, once each; leadership comment on the month's report;
a department below target records its corrective action (整改), which the next month's report
lists; each write leaves an audit entry, bad input writes nothing, and another clinic sees
none of it. On the report page (both languages), the sign-off page and in the PDF."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import override

from crm.models import (
    AuditEntry,
    CorrectiveAction,
    Department,
    FollowUpTask,
    KpiTarget,
    RegisterSignOff,
    ReportComment,
)
from crm.reporting.period import month_period
from crm.reporting.report import report_build
from crm.reporting.targets import kpi_targets_save
from crm.selectors_review import review_build
from crm.services.review import (
    corrective_action_close,
    corrective_action_record,
    register_sign_off,
    report_comment_add,
)
from crm.services.staff import staff_set_departments
from tests.conftest import login
from tests.crm.conftest import in_english
from tests.crm.test_kpi import world  # noqa: F401  (a fixture)
from tests.crm.test_report_exports import download, flat, pdf_text
from tests.factories import StaffFactory

pytestmark = pytest.mark.now("2026-12-05 10:00")

NOVEMBER = date(2026, 11, 1)
A = AuditEntry.Action


@pytest.fixture
def loop(world, tenant_a, in_tenant):  # noqa: F811
    """World's November: the ward (orthopaedics) followed up 2 of 6 (33.33 %) against the
    clinic's follow-up target of 80 %. Its supervisor and a clinician work in the ward; a
    supervisor of paediatrics, an agent of the ward and an administrator do not sign it."""
    with in_tenant(tenant_a):
        KpiTarget.objects.all().delete()
        kpi_targets_save(values={("follow_up_rate", None, ""): Decimal(80)})
        ward = world["ward"]
        other = Department.objects.exclude(pk=ward.pk).order_by("pk").first()
        people = {
            "head": StaffFactory(email="head@alpha.test", role="supervisor"),
            "nurse": StaffFactory(email="nurse@alpha.test", role="clinician"),
            "elsewhere": StaffFactory(email="elsewhere@alpha.test", role="supervisor"),
            "agent": StaffFactory(email="ward-agent@alpha.test", role="agent"),
            "admin": StaffFactory(email="leader@alpha.test", role="admin"),
        }
        for key in ("head", "nurse", "agent"):
            staff_set_departments(user=people[key], departments=[ward])
        staff_set_departments(user=people["elsewhere"], departments=[other])
        return {**world, **people, "other": other}


def _action(loop, **overrides):
    values = {
        "user": loop["head"],
        "department": loop["ward"],
        "month": NOVEMBER,
        "metric": "follow_up_rate",
        "cause": "夜班人手不足",
        "measures": "每日下午集中回访",
        "owner": "王护士长",
        "due_on": date(2026, 12, 31),
    }
    return corrective_action_record(**(values | overrides))


def _nothing_written():
    return (
        RegisterSignOff.objects.count(),
        ReportComment.objects.count(),
        CorrectiveAction.objects.count(),
        AuditEntry.objects.filter(
            action__in=[
                A.REGISTER_SIGNED,
                A.REPORT_COMMENTED,
                A.CORRECTIVE_ACTION_RECORDED,
                A.CORRECTIVE_ACTION_CLOSED,
            ]
        ).count(),
    ) == (0, 0, 0, 0)


# --- Services -----------------------------------------------------------------------------


def test_the_head_and_the_head_nurse_sign_november_once_each(loop, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        head = register_sign_off(
            user=loop["head"], department=loop["ward"], month=NOVEMBER, role="head", note="已核"
        )
        nurse = register_sign_off(
            user=loop["nurse"], department=loop["ward"], month=NOVEMBER, role="head_nurse"
        )
        entries = list(AuditEntry.objects.filter(action=A.REGISTER_SIGNED).order_by("pk"))
        review = review_build(report_build(month_period(NOVEMBER)))

    assert head.figures == nurse.figures == {"eligible": 6, "followed_up": 2}
    assert [(e.actor_id, e.object_id, e.detail) for e in entries] == [
        (
            loop["head"].pk,
            str(head.pk),
            {"month": "2026-11", "department": loop["ward"].pk, "signed_as": "head"},
        ),
        (
            loop["nurse"].pk,
            str(nurse.pk),
            {"month": "2026-11", "department": loop["ward"].pk, "signed_as": "head_nurse"},
        ),
    ]
    ward = next(row for row in review.departments if row.department == loop["ward"])
    assert ward.complete and not ward.changed
    assert [sign_off for _role, _label, sign_off in ward.signatures] == [head, nurse]


def test_a_second_sign_off_of_the_same_role_is_refused(loop, tenant_a, in_tenant):
    with in_tenant(tenant_a), override("en"):
        first = register_sign_off(
            user=loop["head"], department=loop["ward"], month=NOVEMBER, role="head"
        )
        with pytest.raises(ValidationError) as refused:
            register_sign_off(
                user=loop["nurse"], department=loop["ward"], month=NOVEMBER, role="head"
            )
        with pytest.raises(ValidationError) as twice:
            register_sign_off(
                user=loop["head"], department=loop["ward"], month=NOVEMBER, role="head_nurse"
            )
        assert list(RegisterSignOff.objects.all()) == [first]
        assert AuditEntry.objects.filter(action=A.REGISTER_SIGNED).count() == 1

    assert refused.value.messages == [
        f"The Department head of {loop['ward'].name} has already signed 2026-11."
    ]
    assert twice.value.messages == [
        f"You have already signed {loop['ward'].name} for 2026-11; the other role signs too."
    ]


@pytest.mark.parametrize("month", [date(2026, 12, 1), date(2027, 1, 1)])
def test_a_month_not_yet_ended_or_to_come_is_refused(loop, tenant_a, in_tenant, month):
    with in_tenant(tenant_a), override("en"):
        with pytest.raises(ValidationError) as refused:
            register_sign_off(user=loop["head"], department=loop["ward"], month=month, role="head")
        with pytest.raises(ValidationError):
            report_comment_add(user=loop["admin"], month=month, body="好")
        with pytest.raises(ValidationError):
            _action(loop, month=month)
        assert _nothing_written()

    assert refused.value.messages == [
        f"{month:%Y-%m} has not ended yet: it can be reviewed from the first day of the next month."
    ]


@pytest.mark.parametrize("who", ["elsewhere", "agent", "admin"])
def test_only_the_departments_own_supervisors_and_clinicians_sign(loop, tenant_a, in_tenant, who):
    with in_tenant(tenant_a):
        with pytest.raises(PermissionDenied):
            register_sign_off(user=loop[who], department=loop["ward"], month=NOVEMBER, role="head")
        assert _nothing_written()


def test_a_register_changed_after_its_signature_is_flagged(loop, tenant_a, in_tenant):
    with in_tenant(tenant_a):
        register_sign_off(user=loop["head"], department=loop["ward"], month=NOVEMBER, role="head")
        # A late follow-up of a November discharge is completed in December.
        S = FollowUpTask.Status
        task = FollowUpTask.objects.filter(status=S.PENDING, attempts_count=0).last()
        FollowUpTask.objects.filter(pk=task.pk).update(
            status=S.COMPLETED, attempts_count=1, reached_in_window=True
        )
        ward = next(
            row
            for row in review_build(report_build(month_period(NOVEMBER))).departments
            if row.department == loop["ward"]
        )

    assert ward.figures == {"eligible": 6, "followed_up": 3}
    assert ward.sign_offs[0].figures == {"eligible": 6, "followed_up": 2}
    assert ward.changed


def test_leadership_comment_on_the_report(loop, tenant_a, in_tenant):
    with in_tenant(tenant_a), override("en"):
        comment = report_comment_add(user=loop["admin"], month=NOVEMBER, body=" 骨科请整改。 ")
        with pytest.raises(PermissionDenied):
            report_comment_add(user=loop["head"], month=NOVEMBER, body="我也说一句")
        with pytest.raises(ValidationError) as empty:
            report_comment_add(user=loop["admin"], month=NOVEMBER, body="   ")
        entry = AuditEntry.objects.get(action=A.REPORT_COMMENTED)
        bodies = list(ReportComment.objects.values_list("body", flat=True))

    assert bodies == ["骨科请整改。"]
    assert (entry.actor_id, entry.object_id, entry.detail) == (
        loop["admin"].pk,
        str(comment.pk),
        {"month": "2026-11"},
    )
    assert empty.value.messages == ["Write the comment."]


def test_a_department_below_target_records_and_closes_its_corrective_action(
    loop, tenant_a, in_tenant
):
    with in_tenant(tenant_a):
        action = _action(loop)
        closed = corrective_action_close(user=loop["head"], action=action, result="回访率升至85%")
        entries = list(
            AuditEntry.objects.filter(
                action__in=[A.CORRECTIVE_ACTION_RECORDED, A.CORRECTIVE_ACTION_CLOSED]
            ).order_by("pk")
        )
        december = review_build(report_build(month_period(date(2026, 12, 1))))

    assert (action.value, action.target, action.status) == (
        Decimal("33.33"),
        Decimal("80.00"),
        "open",
    )
    assert (closed.status, closed.result, closed.closed_by) == (
        "done",
        "回访率升至85%",
        loop["head"],
    )
    assert [(e.action, e.detail) for e in entries] == [
        (
            A.CORRECTIVE_ACTION_RECORDED,
            {"month": "2026-11", "department": loop["ward"].pk, "metric": "follow_up_rate"},
        ),
        (
            A.CORRECTIVE_ACTION_CLOSED,
            {"month": "2026-11", "department": loop["ward"].pk, "status": "done"},
        ),
    ]
    # The next month's report lists it.
    assert december.previous_actions == [closed]
    assert december.actions == []


def test_a_corrective_action_without_cause_or_measures_is_refused(loop, tenant_a, in_tenant):
    with in_tenant(tenant_a), override("en"):
        with pytest.raises(ValidationError) as refused:
            _action(loop, cause=" ", measures="", owner="", due_on=None)
        assert _nothing_written()

    assert refused.value.message_dict == {
        "cause": ["Write the cause."],
        "measures": ["Write the measures."],
        "owner": ["Name who owns the measures."],
        "due_on": ["Give the date the measures are due."],
    }


def test_a_corrective_action_of_a_department_not_below_target_is_refused(loop, tenant_a, in_tenant):
    with in_tenant(tenant_a), override("en"):
        kpi_targets_save(values={("follow_up_rate", None, ""): Decimal(30)})
        with pytest.raises(ValidationError) as refused:
            _action(loop)
        with pytest.raises(PermissionDenied):
            _action(loop, user=loop["elsewhere"])
        assert _nothing_written()

    assert refused.value.messages == [
        f"{loop['ward'].name} met its Follow-up rate target in 2026-11 (or has none): "
        "there is nothing to correct."
    ]


def test_closing_needs_a_result_and_happens_once(loop, tenant_a, in_tenant):
    with in_tenant(tenant_a), override("en"):
        action = _action(loop)
        with pytest.raises(ValidationError) as empty:
            corrective_action_close(user=loop["head"], action=action, result="")
        corrective_action_close(user=loop["head"], action=action, result="完成")
        with pytest.raises(ValidationError) as again:
            corrective_action_close(user=loop["head"], action=action, result="再次")
        action.refresh_from_db()
        closings = AuditEntry.objects.filter(action=A.CORRECTIVE_ACTION_CLOSED).count()

    assert empty.value.messages == ["Write the result of the measures."]
    assert again.value.messages == ["This corrective action is already done."]
    assert (action.result, closings) == ("完成", 1)


# --- Pages ----------------------------------------------------------------------------------


def test_the_report_page_shows_the_months_loop_in_both_languages(
    loop, tenant_a, in_tenant, client_a
):
    with in_tenant(tenant_a):
        register_sign_off(user=loop["head"], department=loop["ward"], month=NOVEMBER, role="head")
        report_comment_add(user=loop["admin"], month=NOVEMBER, body="骨科请整改。")
        _action(loop)
    login(client_a, "head@alpha.test")

    chinese = client_a.get("/reports/?month=2026-11").content.decode()
    english = in_english(client_a).get("/reports/?month=2026-11").content.decode()

    for expected in (
        "月度审核 · 2026-11",
        "科主任",
        "护士长",
        "未签字",
        "领导批示",
        "骨科请整改。",
        "本月整改措施",
        "夜班人手不足",
        "上月整改措施",
        "登记整改",
        f"/reports/corrective-actions/new/?month=2026-11&amp;department={loop['ward'].pk}",
    ):
        assert expected in chinese, expected
    for expected in (
        "Monthly review · 2026-11",
        "Department head",
        "not signed",
        "Leadership comments",
        "Corrective actions of this month",
        "Corrective actions of the previous month",
        "Follow-up rate 33.33 % &lt; 80 %",
        "Mark done",
    ):
        assert expected in english, expected
    # The head supervises the ward, not leadership: no comment form.
    assert 'id="review-comment-form"' not in english


def test_the_sign_off_page_signs_and_refuses_a_second_signature_keeping_the_note(
    loop, tenant_a, in_tenant, client_a
):
    login(client_a, "nurse@alpha.test")
    ward = loop["ward"].pk
    page = in_english(client_a).get("/reports/sign-off/")
    signed = client_a.post(
        "/reports/sign-off/?month=2026-11",
        {"month": "2026-11", "department": ward, "role": "head_nurse", "note": "已核对"},
    )
    again = client_a.post(
        "/reports/sign-off/?month=2026-11",
        {"month": "2026-11", "department": ward, "role": "head_nurse", "note": "第二次"},
    )

    assert page.status_code == 200
    assert "Sign off the register · 2026-11" in page.content.decode()
    assert (signed.status_code, signed["Location"]) == (302, "/reports/sign-off/?month=2026-11")
    assert again.status_code == 400
    body = again.content.decode()
    assert f"The Head nurse of {loop['ward'].name} has already signed 2026-11." in body
    assert "第二次" in body
    with in_tenant(tenant_a):
        assert list(RegisterSignOff.objects.values_list("role", "note")) == [
            ("head_nurse", "已核对")
        ]


def test_the_corrective_action_form_keeps_what_was_typed_when_refused(
    loop, tenant_a, in_tenant, client_a
):
    login(client_a, "head@alpha.test")
    url = f"/reports/corrective-actions/new/?month=2026-11&department={loop['ward'].pk}"
    form = in_english(client_a).get(url)
    refused = client_a.post(url, {"metric": "follow_up_rate", "cause": "人手不足"})
    saved = client_a.post(
        url,
        {
            "metric": "follow_up_rate",
            "cause": "人手不足",
            "measures": "增加下午班",
            "owner": "王护士长",
            "due_on": "2026-12-31",
        },
    )

    assert "Follow-up rate 33.33 % &lt; target 80 %" in form.content.decode()
    assert refused.status_code == 400
    assert "Write the measures." in refused.content.decode()
    assert "人手不足" in refused.content.decode()
    assert (saved.status_code, saved["Location"]) == (302, "/reports/?month=2026-11")
    with in_tenant(tenant_a):
        assert list(CorrectiveAction.objects.values_list("cause", "measures")) == [
            ("人手不足", "增加下午班")
        ]


def test_leadership_comments_from_the_report_page(loop, tenant_a, in_tenant, client_a):
    login(client_a, "leader@alpha.test")
    page = client_a.get("/reports/?month=2026-11")
    added = client_a.post("/reports/comments/", {"month": "2026-11", "body": "请骨科本月整改"})
    empty = in_english(client_a).post("/reports/comments/", {"month": "2026-11", "body": ""})
    followed = client_a.get(empty["Location"])

    assert 'id="review-comment-form"' in page.content.decode()
    assert added["Location"] == empty["Location"] == "/reports/?month=2026-11"
    assert "Write the comment." in followed.content.decode()
    with in_tenant(tenant_a):
        assert list(ReportComment.objects.values_list("body", flat=True)) == ["请骨科本月整改"]


def test_the_pdf_lists_the_months_loop(loop, tenant_a, in_tenant, client_a):
    with in_tenant(tenant_a):
        register_sign_off(user=loop["head"], department=loop["ward"], month=NOVEMBER, role="head")
        report_comment_add(user=loop["admin"], month=NOVEMBER, body="骨科请整改。")
        _action(loop)
    login(client_a, "head@alpha.test")

    chinese = pdf_text(download(client_a, "/reports/export.pdf?month=2026-11", "zh-hans"))
    english = pdf_text(download(client_a, "/reports/export.pdf?month=2026-11", "en"))

    for expected in (
        "月度审核",
        "科主任",
        "领导批示",
        "骨科请整改。",
        "本月整改措施",
        "夜班人手不足",
    ):
        assert flat(expected) in chinese, expected
    for expected in (
        "Monthly review",
        "Department head",
        "Head nurse",
        "not signed",
        "Leadership comments",
        "Corrective actions of this month",
        "Follow-up rate 33.33 % < 80.00 %",
        "Corrective actions of the previous month",
    ):
        assert flat(expected) in english, expected


# --- Another clinic ---------------------------------------------------------------------------


def test_another_clinic_neither_sees_nor_signs_the_loop(
    loop, tenant_a, tenant_b, in_tenant, client_a, client_b, admin_b
):
    with in_tenant(tenant_a):
        register_sign_off(user=loop["head"], department=loop["ward"], month=NOVEMBER, role="head")
        report_comment_add(user=loop["admin"], month=NOVEMBER, body="阿尔法的批示")
        _action(loop)
    with in_tenant(tenant_b):
        b_ward, _created = Department.objects.get_or_create(
            code="orthopaedics", defaults={"name": "骨科"}
        )
        StaffFactory(email="head@beta.test", role="supervisor")
    login(client_b, "admin@beta.test")

    page = client_b.get("/reports/?month=2026-11").content.decode()
    # Alpha's head has no account at beta: their sign-in there fails.
    stranger = login(
        client_b.__class__(HTTP_HOST=client_b.defaults["HTTP_HOST"]), "head@alpha.test"
    )

    assert "阿尔法的批示" not in page
    assert "夜班人手不足" not in page
    assert stranger.status_code == 200  # the sign-in page again, with its error
    with in_tenant(tenant_b):
        with pytest.raises(PermissionDenied):
            register_sign_off(
                user=StaffFactory(email="b-nurse@beta.test", role="clinician"),
                department=b_ward,
                month=NOVEMBER,
                role="head",
            )
        assert _nothing_written()
