"""KPI reports at scale (issue 5): the follow-up engine's 1,000,000-task hospital tenant, with
the attempts, survey responses, complaints and praise a year of work leaves behind.

* report - the last complete month's report page for the whole tenant, grouped by
  department (`/reports/?month=`), and the same report as JSON through the integration API
  (`/api/v1/reports/followup?group_by=department`), requested end to end through Django's
  test client as a supervisor / an API key. Budget: server time p95 <= 300 ms.
* dashboard - the dashboard page of the same month (headline, twelve months of trends,
  departments). Budget: p95 <= 500 ms.
* exactness - the month's figures recomputed the slow way, straight from the definitions
  of DESIGN.md §7 in Python over every task and attempt of the month's encounters, must
  equal the report's figure for figure (per department too). The report reads the live
  tables, with no pre-aggregated copy; this check is what keeps any future shortcut honest.

The data: crm's worklist generator (tests/benchmarks/followup.py) lays down 200,000
encounters over the last 240 days with 1,000,000 tasks; this suite adds the attempts their
statuses imply (a reached call for each completed task, three failed calls of mixed
categories for each unreachable one, one unanswered call for each waiting retry), survey
responses for a fifth of the completed tier-2 tasks, complaints and praise. The tenant lives
in a database of its own, carebridge_bench_kpi, kept between runs."""

import json
import os
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from crm.models import Complaint, Department, Encounter, FollowUpTask, OutcomeCode, Praise
from crm.reporting import summary as kpi_summary
from crm.reporting.figures.followup import (
    NEVER_ATTEMPTED,
    FollowUpFigures,
    follow_up_by_department,
    follow_up_figures,
)
from crm.reporting.period import Period, month_period
from crm.roles import Role
from crm.services.api_keys import api_key_create
from surveys.models import SurveyAnswer, SurveyResponse, SurveyTemplate
from tests.benchmarks import followup as engine
from tests.factories import authenticator_add, totp_code

BUDGET_REPORT_P95_MS = 300
BUDGET_DASHBOARD_P95_MS = 500
SLUG = "bench-kpi"
WARMUP = 5
RESPONSE_SHARE = 0.2
COMPLAINTS = 3000
PRAISE = 1500

User = get_user_model()


def _execute(sql: str, params: dict | None = None) -> int:
    return engine._execute(sql, params)


# --- The data ---------------------------------------------------------------------------------


def _data(tenant, *, tasks: int, encounters: int, rebuild: bool) -> dict:
    dataset = engine._worklist_data(tenant, tasks=tasks, encounters=encounters, rebuild=rebuild)
    with tenant_context(tenant):
        if rebuild or not SurveyResponse.objects.exists():
            started = time.perf_counter()
            _attempts_generate()
            _feedback_generate()
            engine._analyze()
            for table in ("crm_callattempt", "surveys_surveyresponse", "surveys_surveyanswer"):
                _execute(f"VACUUM (ANALYZE) {table}")
            print(f"  attempts and feedback in {time.perf_counter() - started:.0f} s", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM crm_callattempt")
            dataset["attempts"] = cursor.fetchone()[0]
        dataset["responses"] = SurveyResponse.objects.count()
        dataset["complaints"] = Complaint.objects.count()
        dataset["praise"] = Praise.objects.count()
    return dataset


# A failed call's category, drawn in this order by r in [0, 1).
FAILED = [
    (0.40, "no_answer"),
    (0.55, "powered_off"),
    (0.65, "suspended"),
    (0.75, "busy"),
    (0.85, "wrong_number"),
    (0.92, "refused"),
    (0.97, "hung_up_suspected_fraud"),
    (1.01, "transferred_elsewhere"),
]


def _attempts_generate() -> None:
    print("Generating the attempts the task statuses imply ...", flush=True)
    _execute("TRUNCATE crm_callattempt RESTART IDENTITY")
    codes = {
        category: OutcomeCode.objects.filter(category=category).order_by("pk").first().pk
        for _, category in FAILED + [(0, "reached")]
    }
    failed_case = " ".join(f"WHEN r < {limit} THEN '{category}'" for limit, category in FAILED)
    agents = list(
        User.objects.filter(groups__name=Role.AGENT).order_by("pk").values_list("pk", flat=True)
    )
    _execute(
        f"""
        WITH attempt AS (
            SELECT t.id AS task_id, t.status, n, t.attempts_count, t.due_at, t.id,
                   random() AS r
            FROM crm_followuptask t, generate_series(1, t.attempts_count) AS n
            WHERE t.attempts_count > 0
        ), shaped AS (
            SELECT attempt.*,
                   CASE WHEN status = 'completed' THEN 'reached'
                        ELSE CASE {failed_case} END END AS category
            FROM attempt
        )
        INSERT INTO crm_callattempt (task_id, agent_id, channel, started_at, duration_seconds,
            outcome_id, category, notes, recovered, created_at)
        SELECT task_id, (%(agents)s::int[])[1 + id %% cardinality(%(agents)s::int[])], 'phone',
               due_at - interval '3 days' + n * interval '5 hours', 60,
               (%(codes)s::jsonb ->> category)::bigint, category, '', false, now()
        FROM shaped
        """,
        {"agents": agents, "codes": json.dumps(codes)},
    )


def _feedback_generate() -> None:
    print("Generating survey responses, complaints and praise ...", flush=True)
    SurveyResponse.objects.all().delete()
    Complaint.objects.all().delete()
    Praise.objects.all().delete()
    template = SurveyTemplate.objects.filter(versions__isnull=False).order_by("pk").first()
    version = template.versions.order_by("-number").first()
    tasks = list(
        FollowUpTask.objects.filter(status=FollowUpTask.Status.COMPLETED, tier=2)
        .order_by("pk")
        .values_list("pk", "contact_id", "encounter_id", "encounter__department_id", "completed_at")
    )
    picked = tasks[:: round(1 / RESPONSE_SHARE)]
    responses = []
    for i, (task, contact, encounter, department, completed_at) in enumerate(picked):
        overall = 5 - (i % 7 == 0) - (i % 11 == 0) * 2 - (i % 29 == 0)  # mostly 5, some 1..4
        nps = None if i % 3 == 0 else 10 - i % 11
        responses.append(
            SurveyResponse(
                version=version,
                template=template,
                source="call",
                task_id=task,
                contact_id=contact,
                encounter_id=encounter,
                department_id=department,
                language="zh-hans",
                score=Decimal(overall - 1) / 4,
                nps=nps,
                satisfaction=(
                    "satisfied" if overall >= 4 else "neutral" if overall == 3 else "dissatisfied"
                ),
                submitted_at=completed_at,
            )
        )
    SurveyResponse.objects.bulk_create(responses, batch_size=5000)
    answers = []
    for i, response in enumerate(responses):
        overall = round(response.score * 4) + 1
        answers.append(
            SurveyAnswer(
                response=response,
                question_key="q1",
                kind="rating",
                dimension="overall",
                number=overall,
            )
        )
        answers.append(
            SurveyAnswer(
                response=response,
                question_key="q2",
                kind="rating",
                dimension="doctor",
                number=max(1, overall - (i % 5 == 0)),
            )
        )
        if response.nps is not None:
            answers.append(
                SurveyAnswer(response=response, question_key="q3", kind="nps", number=response.nps)
            )
    SurveyAnswer.objects.bulk_create(answers, batch_size=10000)
    departments = list(Department.objects.order_by("pk").values_list("pk", flat=True))
    staff = list(User.objects.order_by("pk").values_list("pk", flat=True))
    now = timezone.now()
    categories = [c for c, _ in Complaint.Category.choices]
    complaints = []
    for i in range(COMPLAINTS):
        created = now - timedelta(days=240 * i / COMPLAINTS, hours=i % 24)
        deadline = created + timedelta(days=7)
        replied = created + timedelta(days=1 + i % 9) if i % 13 else None
        complaints.append(
            Complaint(
                source="call",
                category=categories[i % len(categories)],
                department_id=departments[i % len(departments)],
                summary="bench",
                deadline=deadline,
                acknowledge_by=created + timedelta(days=1),
                replied_at=replied if replied and replied < now else None,
            )
        )
    Complaint.objects.bulk_create(complaints, batch_size=5000)
    # created_at is auto_now_add: spread afterwards (every deadline is received + 7 days).
    Complaint.objects.update(created_at=F("deadline") - timedelta(days=7))
    Praise.objects.bulk_create(
        [
            Praise(
                source="survey",
                staff_id=staff[i % len(staff)],
                department_id=departments[i % len(departments)],
            )
            for i in range(PRAISE)
        ],
        batch_size=5000,
    )
    _execute("UPDATE crm_praise SET created_at = now() - id * interval '4 hours'")


# --- Exactness: the month's figures the slow way ------------------------------------------------


def _recompute(period: Period) -> dict:
    """Follow-up figures per department and for the tenant straight from DESIGN.md §7: every
    task and attempt of the month's encounters read into Python, one encounter at a time."""
    start, end = period.bounds()
    month = Encounter.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    departments = dict(month.values_list("pk", "department_id"))
    tasks = defaultdict(list)
    for row in (
        FollowUpTask.objects.filter(encounter__in=month, spot_check_of=None)
        .exclude(status=FollowUpTask.Status.EXCLUDED)
        .values_list("encounter_id", "status", "attempts_count", "reached_in_window")
    ):
        tasks[row[0]].append(row[1:])
    last = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.encounter_id, a.category FROM crm_callattempt a"
            " JOIN crm_followuptask t ON t.id = a.task_id"
            " JOIN crm_encounter e ON e.id = t.encounter_id"
            " WHERE e.occurred_at >= %s AND e.occurred_at < %s AND t.spot_check_of_id IS NULL"
            " ORDER BY a.started_at, a.id",
            [start, end],
        )
        for encounter, category in cursor.fetchall():
            last[encounter] = category  # ascending: the last one wins
    figures: dict = defaultdict(Counter)
    for encounter, rows in tasks.items():
        for key in ("total", departments[encounter]):
            counted = figures[key]
            counted["eligible"] += 1
            counted["attempted"] += any(attempts > 0 for _, attempts, _ in rows)
            reached = any(status == "completed" for status, _, _ in rows)
            counted["followed_up"] += reached
            counted["lost"] += all(status == "unreachable" for status, _, _ in rows)
            counted["completed_tasks"] += sum(status == "completed" for status, _, _ in rows)
            counted["completed_in_window"] += sum(
                status == "completed" and bool(in_window) for status, _, in_window in rows
            )
            if not reached:
                counted["not:" + last.get(encounter, NEVER_ATTEMPTED)] += 1
    return figures


def _as_counts(figures: FollowUpFigures) -> Counter:
    counted = Counter(
        eligible=figures.eligible,
        attempted=figures.attempted,
        followed_up=figures.followed_up,
        lost=figures.lost,
        completed_tasks=figures.completed_tasks,
        completed_in_window=figures.completed_in_window,
    )
    counted.update({"not:" + key: n for key, n in figures.unreachable.items()})
    return +counted


def _exactness(tenant, period: Period) -> dict:
    with tenant_context(tenant):
        started = time.perf_counter()
        slow = _recompute(period)
        slow_s = time.perf_counter() - started
        fast = {"total": follow_up_figures(period)} | follow_up_by_department(period)
    mismatches = [
        {"scope": str(key), "recomputed": dict(slow[key]), "report": dict(_as_counts(fast[key]))}
        for key in set(slow) | set(fast)
        if +slow[key] != _as_counts(fast[key]) and key is not None
    ]
    return {
        "scopes_compared": len(set(slow) | set(fast)),
        "eligible": slow["total"]["eligible"],
        "recompute_seconds": round(slow_s, 2),
        "mismatches": mismatches,
        "equal": not mismatches,
    }


# --- Timings ------------------------------------------------------------------------------------


def _summary_ms(values: list[float]) -> dict:
    return engine._summary_ms(values)


def _pages(tenant, month: date) -> dict[str, tuple[Client, str, bool]]:
    """name -> (client, url, budget ms)."""
    with tenant_context(tenant):
        supervisor = engine._staff(Role.SUPERVISOR, 1)[0]
        username = User.objects.get(pk=supervisor).username
        # A supervisor signs in with a second step: the phone's code after the password.
        device = authenticator_add(User.objects.get(pk=supervisor))
        _, secret = api_key_create(name="bench", scopes=["reports"])
    browser = Client(HTTP_HOST=tenant.primary_host)
    login = browser.post("/accounts/login/", {"username": username, "password": engine.PASSWORD})
    assert login.status_code == 302, f"login failed ({login.status_code})"
    login = browser.post(login["Location"], {"code": totp_code(device)})
    assert login.status_code == 302, f"second step failed ({login.status_code})"
    api = Client(HTTP_HOST=tenant.primary_host, HTTP_AUTHORIZATION=f"Bearer {secret}")
    period = month_period(month)
    return {
        "report page (month, by department)": (
            browser,
            f"/reports/?month={month:%Y-%m}",
            BUDGET_REPORT_P95_MS,
        ),
        "report API (month, group_by=department)": (
            api,
            f"/api/v1/reports/followup?start={period.start}&end={period.end}&group_by=department",
            BUDGET_REPORT_P95_MS,
        ),
        "dashboard page (month)": (
            browser,
            f"/reports/dashboard/?month={month:%Y-%m}",
            BUDGET_DASHBOARD_P95_MS,
        ),
    }


def _measure(tenant, month: date, requests: int) -> dict:
    pages = _pages(tenant, month)
    samples: dict[str, list[float]] = {name: [] for name in pages}
    for round_no in range(WARMUP + requests):
        for name, (client, url, _) in pages.items():
            started = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, f"{url}: {response.status_code}"
            if round_no >= WARMUP:
                samples[name].append(elapsed)
    return {
        name: {"url": url, "budget_ms": budget, **_summary_ms(samples[name])}
        for name, (_, url, budget) in pages.items()
    }


def run(*, tasks: int, encounters: int, requests: int, rebuild: bool, json_path: Path) -> dict:
    engine._database_prepare()
    tenant = engine._tenant(SLUG)
    dataset = _data(tenant, tasks=tasks, encounters=encounters, rebuild=rebuild)
    with tenant_context(tenant):
        today = timezone.localdate()
    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)  # last complete month
    print(f"Timing the reports of {month:%Y-%m} ({requests} requests each) ...", flush=True)
    timings = _measure(tenant, month, requests)
    print("Recomputing the month's figures from the definitions ...", flush=True)
    exactness = _exactness(tenant, month_period(month))
    print("Verifying the whole summary table against a full recomputation ...", flush=True)
    with tenant_context(tenant):
        started = time.perf_counter()
        summary = kpi_summary.verify()
        summary["seconds"] = round(time.perf_counter() - started, 2)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": engine._machine(),
        "parameters": {"tasks": tasks, "encounters": encounters, "requests": requests},
        "dataset": dataset,
        "month": f"{month:%Y-%m}",
        "timings": timings,
        "exactness": exactness,
        "summary": summary,
        "load_average": os.getloadavg(),
    }
    report["budget"] = [
        {
            "what": f"{name}, server p95",
            "budget": f"<= {timing['budget_ms']} ms",
            "result": f"{timing['p95_ms']:.1f} ms (p50 {timing['p50_ms']:.1f})",
            "pass": timing["p95_ms"] <= timing["budget_ms"],
        }
        for name, timing in timings.items()
    ] + [
        {
            "what": "report equals a full recomputation",
            "budget": "every figure",
            "result": f"{exactness['scopes_compared']} scopes, "
            f"{len(exactness['mismatches'])} mismatches",
            "pass": exactness["equal"],
        },
        {
            "what": "summary table equals a full recomputation (every encounter)",
            "budget": "no row missing or extra",
            "result": f"{summary['rows']:,} rows, {summary['missing']} missing,"
            f" {summary['extra']} extra ({summary['seconds']} s)",
            "pass": summary["missing"] == summary["extra"] == 0,
        },
    ]
    _print(report)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=2, default=str, ensure_ascii=False))
    print(f"\nJSON written to {json_path}")
    return report


def _print(report: dict) -> None:
    dataset = report["dataset"]
    print(
        f"\nKPI reports, month {report['month']}: {dataset['tasks']:,} tasks,"
        f" {dataset['encounters']:,} encounters, {dataset['attempts']:,} attempts,"
        f" {dataset['responses']:,} responses, {dataset['complaints']:,} complaints;"
        f" load average {report['load_average'][0]:.2f}"
    )
    print(f"{'':45} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, timing in report["timings"].items():
        print(f"{name:45} {timing['p50_ms']:8.1f} {timing['p95_ms']:8.1f} {timing['max_ms']:8.1f}")
    exactness = report["exactness"]
    print(
        f"Recomputed from the definitions: {exactness['eligible']:,} eligible encounters,"
        f" {exactness['scopes_compared']} scopes, mismatches: {len(exactness['mismatches'])}"
        f" ({exactness['recompute_seconds']} s)"
    )
    print("\nBudget:")
    for line in report["budget"]:
        verdict = "PASS" if line["pass"] else "FAIL"
        print(f"  {verdict}  {line['what']}: {line['result']} (budget {line['budget']})")
