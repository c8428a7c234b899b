"""Importing a discharge list: upload, mapping (remembered), dry-run preview with per-row
errors, the import in a Celery task, rejected rows downloadable, re-import idempotent."""

import csv
import io
from contextlib import contextmanager
from datetime import datetime

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.utils import translation

from crm.models import (
    AuditEntry,
    Contact,
    ContactPhone,
    Encounter,
    FollowUpTask,
    ImportJob,
    ImportMapping,
)
from tests.crm.conftest import in_english

# The registers list discharges of 19-21 November 2026, imported a few days later (a date in
# the future is refused).
pytestmark = pytest.mark.now("2026-11-24 09:00")

HEADERS = [
    "序号",
    "科室",
    "姓名",
    "性别",
    "年龄",
    "住院号",
    "诊断",
    "出院时间",
    "电话",
    "主治医生",
    "转归",
]
GOOD = [
    [
        "1",
        "骨科",
        "张三",
        "男",
        "65",
        "ZY001",
        "股骨颈骨折",
        "2026-11-20",
        "13800138001",
        "王医生",
        "好转",
    ],
    [
        "2",
        "产科",
        "李四",
        "女",
        "29",
        "ZY002",
        "足月顺产",
        "2026/11/21",
        "13800138002",
        "赵医生",
        "治愈",
    ],
    [
        "3",
        "心血管内科",
        "王五",
        "男",
        "71",
        "ZY003",
        "高血压",
        "2026年11月19日",
        "13800138003;0571-88881234",
        "",
        "好转",
    ],
]
BAD = [
    ["4", "骨科", "赵六", "男", "50", "ZY004", "骨折", "2026-11-20", "12345", "", "好转"],  # phone
    [
        "5",
        "外星科",
        "钱七",
        "女",
        "40",
        "ZY005",
        "x",
        "2026-11-20",
        "13800138005",
        "",
        "好转",
    ],  # dept
    ["6", "骨科", "孙八", "男", "40", "ZY006", "x", "", "13800138006", "", "好转"],  # no date
    [
        "7",
        "骨科",
        "张三",
        "男",
        "65",
        "ZY001",
        "股骨颈骨折",
        "2026-11-20",
        "13800138001",
        "",
        "好转",
    ],  # dup of 1
    [
        "8",
        "骨科",
        "周九",
        "男",
        "40",
        "ZY008",
        "x",
        "2099-01-01",
        "13800138008",
        "",
        "好转",
    ],  # future
]


def csv_bytes(rows, headers=HEADERS, encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def upload(client, content: bytes, name="出院名单.csv"):
    return client.post("/imports/", {"file": SimpleUploadedFile(name, content)})


def job_id(response) -> int:
    return int(response["Location"].rstrip("/").split("/")[-1])


def run_import(client, content, django_capture_on_commit_callbacks, name="出院名单.csv"):
    """Upload, accept the guessed mapping, start; the Celery tasks (reading a workbook,
    importing) run eagerly on commit."""
    with django_capture_on_commit_callbacks(execute=True):
        pk = job_id(upload(client, content, name))
    job = client.get(f"/imports/{pk}/").context["job"]
    mapping = {f"col-{i}": job.mapping.get(h, "") for i, h in enumerate(job.headers)}
    assert client.post(f"/imports/{pk}/map/", mapping).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/imports/{pk}/start/").status_code == 302
    return pk


def test_upload_guesses_the_mapping_from_chinese_headings(admin_client_a):
    pk = job_id(upload(admin_client_a, csv_bytes(GOOD)))
    job = admin_client_a.get(f"/imports/{pk}/").context["job"]
    assert job.mapping == {
        "序号": "serial_no",
        "科室": "department",
        "姓名": "name",
        "性别": "sex",
        "年龄": "age",
        "住院号": "record_no",
        "诊断": "diagnosis",
        "出院时间": "occurred_at",
        "电话": "phone",
        "主治医生": "attending",
        "转归": "discharge_outcome",
    }
    assert job.total_rows == 3


def test_preview_reports_every_bad_row_with_its_number_and_writes_nothing(
    admin_client_a, tenant_a, in_tenant
):
    pk = job_id(upload(admin_client_a, csv_bytes(GOOD + BAD)))
    job = admin_client_a.get(f"/imports/{pk}/").context["job"]
    mapping = {f"col-{i}": job.mapping.get(h, "") for i, h in enumerate(job.headers)}
    with translation.override("en"):
        in_english(admin_client_a).post(f"/imports/{pk}/map/", mapping)  # checked in English
        response = in_english(admin_client_a).get(f"/imports/{pk}/")
        errors = {(e["row"], e["column"]): e["message"] for e in response.context["errors"]}
    assert errors == {
        (5, "电话"): "“12345” is not a valid phone number.",
        (6, "科室"): "Unknown department “外星科”.",
        (7, "出院时间"): "Date (discharge, operation, visit) is missing.",
        (8, ""): "Same encounter as row 2.",
        (9, "出院时间"): "The date 2099-01-01 is in the future.",
    }
    assert response.context["preview"]["new"] == 3
    with in_tenant(tenant_a):
        assert not Encounter.objects.exists()
        assert not Contact.objects.filter(record_no__startswith="ZY").exists()


def test_import_commits_valid_rows_plans_tasks_and_reports_the_rest(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    pk = run_import(admin_client_a, csv_bytes(GOOD + BAD), django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        job = ImportJob.objects.get(pk=pk)
        assert (job.status, job.created_count, job.updated_count, job.unchanged_count) == (
            "done",
            3,
            0,
            0,
        )
        assert job.error_rows == 5
        assert Encounter.objects.count() == 3
        zhang = Contact.objects.get(record_no="ZY001")
        assert (zhang.name, zhang.sex) == ("张三", "M")
        wang = Contact.objects.get(record_no="ZY003")
        assert list(wang.phones.values_list("number", flat=True)) == [
            "+8613800138003",
            "+8657188881234",
        ]
        encounter = Encounter.objects.get(contact=zhang)
        assert (encounter.department.code, encounter.age, encounter.discharge_outcome) == (
            "orthopaedics",
            65,
            "improved",
        )
        assert encounter.attending_name == "王医生"
        # Bad rows left nothing behind, not even their contact.
        assert not Contact.objects.filter(record_no__in=["ZY004", "ZY005", "ZY006"]).exists()
        # The hospital's discharge rule planned one task per encounter.
        assert FollowUpTask.objects.filter(encounter__in=Encounter.objects.all()).count() == 3
    page = admin_client_a.get(f"/imports/{pk}/").content.decode()
    assert "rejected.csv" in page


def test_reimporting_the_same_file_changes_nothing(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    content = csv_bytes(GOOD)
    run_import(admin_client_a, content, django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        before = (
            list(Encounter.objects.values().order_by("pk")),
            list(FollowUpTask.objects.values().order_by("pk")),
            ContactPhone.objects.count(),
        )
    pk = run_import(admin_client_a, content, django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        job = ImportJob.objects.get(pk=pk)
        assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 0, 3)
        after = (
            list(Encounter.objects.values().order_by("pk")),
            list(FollowUpTask.objects.values().order_by("pk")),
            ContactPhone.objects.count(),
        )
        assert after == before


def test_a_corrected_row_updates_the_encounter_and_replans(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    run_import(admin_client_a, csv_bytes(GOOD[:1]), django_capture_on_commit_callbacks)
    corrected = [GOOD[0][:10] + ["死亡"]]
    pk = run_import(admin_client_a, csv_bytes(corrected), django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        assert ImportJob.objects.get(pk=pk).updated_count == 1
        tasks = FollowUpTask.objects.filter(encounter__contact__record_no="ZY001")
        # The improved patient's call to the attending doctor is cancelled; a death is the
        # centre's rule's to record, as an exclusion (the hospital preset).
        assert set(tasks.values_list("rule__name", "status", "reason")) == {
            ("出院回访（好转/转院）", "cancelled", "deceased"),
            ("出院回访", "excluded", "deceased"),
        }
        assert Contact.objects.get(record_no="ZY001").deceased


def test_rejected_rows_download_as_csv_and_the_export_is_audited(
    admin_client_a, admin_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    pk = run_import(admin_client_a, csv_bytes(GOOD + BAD), django_capture_on_commit_callbacks)
    response = admin_client_a.get(f"/imports/{pk}/rejected.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][1:-1] == HEADERS
    assert [r[0] for r in rows[1:]] == ["5", "6", "7", "8", "9"]
    assert rows[1][1:-1] == BAD[0]
    with in_tenant(tenant_a):
        entry = AuditEntry.objects.get(action="import_errors_exported")
        assert (entry.actor_id, entry.object_id) == (admin_a.pk, str(pk))


def test_a_rejected_row_written_like_a_formula_downloads_as_text(
    admin_client_a, django_capture_on_commit_callbacks
):
    hostile = list(BAD[0])
    hostile[2] = '=HYPERLINK("http://evil.example","点这里")'
    pk = run_import(admin_client_a, csv_bytes([*GOOD, hostile]), django_capture_on_commit_callbacks)

    rows = list(
        csv.reader(
            io.StringIO(
                admin_client_a.get(f"/imports/{pk}/rejected.csv").content.decode("utf-8-sig")
            )
        )
    )

    assert rows[1][3] == "'" + hostile[2]  # the leading apostrophe: shown as text, never run


def test_xlsx_and_gb18030_csv_are_read(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(HEADERS)
    row = list(GOOD[0])
    row[7] = datetime(2026, 11, 20, 9, 30)  # a real Excel date cell
    sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    run_import(admin_client_a, buffer.getvalue(), django_capture_on_commit_callbacks, "名单.xlsx")
    run_import(
        admin_client_a,
        csv_bytes(GOOD[1:2], encoding="gb18030"),
        django_capture_on_commit_callbacks,
    )
    with in_tenant(tenant_a):
        assert set(Contact.objects.values_list("name", flat=True)) >= {"张三", "李四"}
        zhang = Encounter.objects.get(contact__record_no="ZY001")
        assert zhang.occurred_at.astimezone(tenant_a_zone(tenant_a)).hour == 9


def tenant_a_zone(tenant):
    from zoneinfo import ZoneInfo

    return ZoneInfo(tenant.timezone)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("list.pdf", b"%PDF-1.4", "Upload a .csv or .xlsx file."),
        ("list.csv", b"", "The submitted file is empty."),
        ("list.csv", b",,\n", "The file is empty or its first row has no column headings."),
        ("list.xlsx", b"not a workbook", "The file is not a readable Excel workbook."),
        ("list.xls", b"\xd0\xcf\x11\xe0\xa1\xb1", "Excel 97–2003 (.xls) files cannot be read"),
        ("list.csv", "姓名,姓名\n张三,李四\n".encode(), "Two columns have the same heading"),
    ],
)
def test_unreadable_files_are_refused_with_the_reason(
    admin_client_a, tenant_a, in_tenant, name, content, message
):
    with translation.override("en"):
        response = in_english(admin_client_a).post(
            "/imports/", {"file": SimpleUploadedFile(name, content)}
        )
        assert response.status_code == 200
        assert message in response.content.decode()
    with in_tenant(tenant_a):
        assert not ImportJob.objects.exists()


def test_mapping_must_name_the_required_columns_once(admin_client_a):
    pk = job_id(upload(admin_client_a, csv_bytes(GOOD)))
    with translation.override("en"):
        response = in_english(admin_client_a).post(
            f"/imports/{pk}/map/", {"col-0": "name", "col-2": "name"}
        )
        page = response.content.decode()
    assert response.status_code == 400
    assert "Name is chosen for more than one column." in page
    assert "Choose the column of Date (discharge, operation, visit)." in page


def test_the_mapping_is_remembered_for_the_next_file(admin_client_a, tenant_a, in_tenant):
    headers = ["病人", "日期列", "号码"]
    content = csv_bytes([["张三", "2026-11-20", "13800138001"]], headers=headers)
    pk = job_id(upload(admin_client_a, content))
    admin_client_a.post(
        f"/imports/{pk}/map/", {"col-0": "name", "col-1": "occurred_at", "col-2": "phone"}
    )
    with in_tenant(tenant_a):
        assert dict(ImportMapping.objects.values_list("header", "field")) == {
            "病人": "name",
            "日期列": "occurred_at",
            "号码": "phone",
        }
    again = job_id(upload(admin_client_a, content))
    job = admin_client_a.get(f"/imports/{again}/").context["job"]
    assert job.mapping == {"病人": "name", "日期列": "occurred_at", "号码": "phone"}


def test_an_import_cannot_be_started_twice(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    pk = run_import(admin_client_a, csv_bytes(GOOD), django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        admin_client_a.post(f"/imports/{pk}/start/")
    with in_tenant(tenant_a):
        assert Encounter.objects.count() == 3


def test_progress_is_reported_as_json(admin_client_a):
    pk = job_id(upload(admin_client_a, csv_bytes(GOOD)))
    state = admin_client_a.get(f"/imports/{pk}/progress/").json()
    assert state == {
        "status": "uploaded",
        "percent": 0,
        "processed": 0,
        "total": 3,
        "finished": False,
    }


def test_agents_cannot_import(agent_client_a):
    assert agent_client_a.get("/imports/").status_code == 403


def test_another_tenant_cannot_see_or_run_an_import(
    admin_client_a, admin_client_b, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    pk = run_import(admin_client_a, csv_bytes(GOOD + BAD), django_capture_on_commit_callbacks)
    for path in ("/imports/{pk}/", "/imports/{pk}/rejected.csv", "/imports/{pk}/progress/"):
        assert admin_client_b.get(path.format(pk=pk)).status_code == 404
    assert "出院名单.csv" not in admin_client_b.get("/imports/").content.decode()


@pytest.mark.parametrize("tenant_fixture", ["tenant_a", "tenant_b"])
def test_the_sample_register_imports_with_one_deliberate_error(
    request, tenant_fixture, in_tenant, django_capture_on_commit_callbacks
):
    """The sample offered on the import page works as a demo in every kind of clinic."""
    from django.test import Client

    from tests.conftest import login
    from tests.factories import StaffFactory

    tenant = request.getfixturevalue(tenant_fixture)
    with in_tenant(tenant):
        StaffFactory(email="importer@clinic.test", role="admin")
    client = Client(HTTP_HOST=tenant.primary_host)
    login(client, "importer@clinic.test")
    sample = client.get("/imports/sample.csv")
    assert sample["Content-Disposition"].endswith('"carebridge-sample.csv"')
    pk = run_import(client, sample.content, django_capture_on_commit_callbacks, "sample.csv")
    with in_tenant(tenant):
        job = ImportJob.objects.get(pk=pk)
        assert (job.created_count, [e["row"] for e in job.errors]) == (11, [6])
        assert FollowUpTask.objects.filter(status="pending").exists()


def test_a_redelivered_import_message_does_nothing(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    from crm.services.import_jobs import import_run

    pk = run_import(admin_client_a, csv_bytes(GOOD), django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        job = import_run(pk)  # the same task delivered again
        assert (job.status, job.created_count) == ("done", 3)
        assert Encounter.objects.count() == 3


class WorkerKilled(BaseException):
    """What a SIGKILL looks like from inside: nothing after it runs, no handler catches it."""


def test_a_run_killed_midway_is_resumed_by_the_tick_with_exact_counts(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks, monkeypatch
):
    from crm.services import import_jobs
    from crm.tasks import followup_tick_task

    monkeypatch.setattr(import_jobs, "CHUNK", 1)
    pk = job_id(upload(admin_client_a, csv_bytes(GOOD)))
    job = admin_client_a.get(f"/imports/{pk}/").context["job"]
    mapping = {f"col-{i}": job.mapping.get(h, "") for i, h in enumerate(job.headers)}
    admin_client_a.post(f"/imports/{pk}/map/", mapping)
    intake = import_jobs.encounters_intake
    calls = []

    def dies_on_the_third_chunk(**kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise WorkerKilled
        return intake(**kwargs)

    with in_tenant(tenant_a):
        monkeypatch.setattr(import_jobs, "encounters_intake", dies_on_the_third_chunk)
        with pytest.raises(WorkerKilled), django_capture_on_commit_callbacks(execute=True):
            import_jobs.import_run(pk)
        killed = ImportJob.objects.get(pk=pk)
        assert (killed.status, killed.committed_rows, killed.created_count) == ("running", 2, 2)
        assert Encounter.objects.count() == 2
        # The planning of the last chunk before the kill may never have been sent.
        FollowUpTask.objects.filter(encounter=Encounter.objects.latest("pk")).delete()
        monkeypatch.setattr(import_jobs, "encounters_intake", intake)

        with other_session_holding(imports_lock(tenant_a, pk)):  # a runner still alive
            assert import_jobs.imports_orphaned() == []
            assert import_jobs.import_run(pk).status == "running"  # a second message: hands off
        with django_capture_on_commit_callbacks(execute=True):
            ticked = followup_tick_task()  # the runner gone: the tick resumes it

        job = ImportJob.objects.get(pk=pk)
        assert ticked["imports_resumed"] == 1
        assert (job.status, job.runs, job.processed_rows) == ("done", 2, 3)
        assert (job.created_count, job.updated_count, job.unchanged_count) == (3, 0, 0)
        assert Encounter.objects.count() == 3
        assert all(encounter.tasks.exists() for encounter in Encounter.objects.all())


def imports_lock(tenant, pk) -> str:
    return f"SELECT pg_advisory_lock(hashtext('{tenant.schema_name}'), {int(pk)})"


@contextmanager
def other_session_holding(lock_sql: str):
    """Another database session (another worker's) holding a lock while the block runs."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute(lock_sql)
        yield
    finally:
        other.close()


def test_a_file_that_kills_its_worker_every_time_is_given_up(admin_client_a, tenant_a, in_tenant):
    from crm.services.import_jobs import MAX_RUNS, import_run

    pk = job_id(upload(admin_client_a, csv_bytes(GOOD)))
    with in_tenant(tenant_a), translation.override("en"):
        ImportJob.objects.filter(pk=pk).update(status="running", runs=MAX_RUNS)

        job = import_run(pk)

        assert (job.status, job.failure) == (
            "failed",
            f"The import stopped its worker {MAX_RUNS} times and was given up.",
        )
        assert Encounter.objects.count() == 0


def test_a_row_the_database_refuses_is_reported_and_the_others_commit(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    # A NUL byte passes the checks but PostgreSQL stores no such text (in a column kept as
    # is: an encrypted diagnosis holds it): the chunk is split until the refused row is alone.
    refused = GOOD[1][:9] + ["赵\x00医生"] + GOOD[1][10:]
    content = csv_bytes([GOOD[0], refused, GOOD[2]])
    pk = run_import(admin_client_a, content, django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        job = ImportJob.objects.get(pk=pk)
        assert (job.status, job.created_count) == ("done", 2)
        assert [e["row"] for e in job.errors] == [3]
        assert "0x00" in job.errors[0]["message"]
        assert set(Contact.objects.values_list("record_no", flat=True)) == {"ZY001", "ZY003"}
        assert FollowUpTask.objects.count() == 2
        assert job.rejected_cells["3"][9] == "赵\ufffd医生"  # kept without the NUL


def test_a_large_file_is_written_in_chunks_and_reimports_unchanged(
    admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    many = [
        [str(i), "骨科", f"患者{i}", "女", "40", f"ZY9{i:05d}", "骨折", "2026-11-20",
         f"1390013{i:04d}", "", "好转"]
        for i in range(2500)
    ]  # fmt: skip
    content = csv_bytes(many)
    pk = run_import(admin_client_a, content, django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        job = ImportJob.objects.get(pk=pk)
        assert (job.status, job.created_count, job.processed_rows, job.errors) == (
            "done",
            2500,
            2500,
            [],
        )
        assert FollowUpTask.objects.count() == 2500
    pk = run_import(admin_client_a, content, django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        job = ImportJob.objects.get(pk=pk)
        assert (job.created_count, job.updated_count, job.unchanged_count) == (0, 0, 2500)
