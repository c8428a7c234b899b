"""A demo clinic's recent past, so that its reports and dashboard have something to show on
the first `./dev run`: three months of discharges (or visits), planned by the clinic's own
rules, called by the demo agent through the same services the call page uses, with a
realistic mix of outcomes, the survey answered on most reached calls, the complaints low
scores raise and their replies. Seeded random: every demo database looks the same."""

import random
from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from saas import clock
from surveys.models import SurveyTemplate
from surveys.services.responses import response_submit

from ..calendar import local_midnight, tenant_zone
from ..models import (
    Complaint,
    Contact,
    ContactPhone,
    Department,
    Encounter,
    FollowUpRule,
    FollowUpTask,
    OutcomeCode,
    RuleStep,
)
from ..roles import Role
from .feedback import complaint_move
from .followup import AttemptInput, attempt_log, followup_tick
from .planning import encounters_plan

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛"]
FIRST = ["Anna", "Ben", "Chloe", "David", "Emma", "Frank", "Grace", "Henry", "Isla", "Jack"]
LAST = ["Smith", "Brown", "Wilson", "Taylor", "Clark", "Lewis", "Walker", "Hall", "Young"]

# What a call ends with, weighted as a follow-up centre sees it (reached most of the time;
# phones off, lines suspended and wrong numbers are the usual failures).
CALL_OUTCOMES = [
    ("reached", 70),
    ("no_answer", 12),
    ("powered_off", 5),
    ("suspended", 3),
    ("busy", 3),
    ("wrong_number", 3),
    ("refused", 2),
    ("hung_up_suspected_fraud", 2),
    ("transferred_elsewhere", 1),
]


NO_PHONE_EVERY = 40


def _weighted(rng: random.Random, choices):
    return rng.choices([value for value, _ in choices], [weight for _, weight in choices])[0]


def _contact(rng: random.Random, index: int, chinese: bool) -> Contact:
    if chinese:
        name = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2))))
    else:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    contact = Contact.objects.create(
        name=name,
        sex=rng.choice("FM"),
        record_no=f"DEMO{index:06d}",
        language="zh-hans" if chinese else "en",
    )
    # Every NO_PHONE_EVERY-th patient has no number on file, as real registers do: the report
    # shows them as not followed up, "no contact information" (issue 19). By index, not by the
    # generator, so the rest of the made-up history stays as it was.
    if index % NO_PHONE_EVERY:
        ContactPhone.objects.create(
            contact=contact, number=f"+861390000{index:04d}", label="mobile"
        )
    return contact


def _survey_values(rng: random.Random, version, happy: bool) -> dict:
    """Answers to the version's questions: mostly top marks, now and then a poor one."""
    values = {}
    for question in version.questions:
        kind, key = question["kind"], question["key"]
        if kind == "rating":
            # Even a content patient rates one part lower now and then (fees, waiting …).
            values[key] = rng.choice((3, 4, 5, 5, 5, 5, 5)) if happy else rng.choice((1, 2, 3, 4))
        elif kind == "nps":
            values[key] = rng.choice((8, 9, 10, 10)) if happy else rng.choice((2, 5, 6))
        elif kind == "yes_no":
            values[key] = 1 if happy else rng.choice((0, 1))
        elif kind in ("single", "multiple") and question["choices"]:
            zh, en = question["choices"][0 if happy else -1]
            values[key] = [zh or en]
    return values


def _call(rng, task: FollowUpTask, agent, codes: dict, now: datetime) -> list:
    """The calls made on one follow-up, oldest first, each through attempt_log at the time it
    was made; stops when the follow-up closes or the next call would be in the future."""
    zone = tenant_zone(connection.tenant)
    day = timezone.localtime(task.opens_at, zone).date() + timedelta(days=rng.choice((0, 0, 1)))
    when = datetime.combine(day, time(9 + rng.randrange(8), rng.randrange(60)), zone)
    made = []
    while when < now:
        task.refresh_from_db()
        if task.status not in FollowUpTask.OPEN:
            break
        category = _weighted(rng, CALL_OUTCOMES)
        attempt_log(task, agent, AttemptInput(outcome=codes[category]), now=when)
        made.append((category, when))
        when += timedelta(days=1, hours=rng.randrange(-2, 3))
    return made


@transaction.atomic
def demo_history_seed(*, days: int = 90, per_day: int = 5, seed: int = 2026) -> int:
    """The last `days` days of a demo clinic (about `per_day` encounters a day); nothing when
    the clinic already has encounters. Returns the encounters made."""
    if Encounter.objects.exists():
        return 0

    rng = random.Random(seed)  # noqa: S311  (demo data, not secrets)
    now = clock.now()
    zone = tenant_zone(connection.tenant)
    chinese = connection.tenant.locale.startswith("zh")
    users = get_user_model().objects.filter(is_active=True)
    agent = users.filter(groups__name=Role.AGENT).order_by("pk").first()
    supervisor = users.filter(groups__name=Role.SUPERVISOR).order_by("pk").first() or agent
    departments = list(Department.objects.order_by("pk"))
    kinds = sorted(
        {kind for rule in FollowUpRule.objects.filter(active=True) for kind in rule.match_kinds}
    ) or ["outpatient"]
    codes = {
        category: OutcomeCode.objects.filter(category=category, active=True).order_by("pk").first()
        for category, _ in CALL_OUTCOMES
    }

    encounters = []
    today = clock.today()
    for back in range(days, 0, -1):
        day = today - timedelta(days=back)
        for _ in range(rng.randint(per_day - 2, per_day + 2)):
            contact = _contact(rng, len(encounters) + 1, chinese)
            encounters.append(
                Encounter.objects.create(
                    contact=contact,
                    kind=rng.choice(kinds),
                    department=rng.choice(departments) if departments else None,
                    occurred_at=local_midnight(day, zone) + timedelta(hours=rng.randint(9, 17)),
                    age=rng.randint(18, 85),
                    discharge_outcome="improved",
                    source="demo",
                    external_id=f"demo-{len(encounters) + 1}",
                )
            )
    encounters_plan([encounter.pk for encounter in encounters], now=now)

    surveys = {}
    calls = FollowUpTask.objects.filter(
        encounter__source="demo", channel=RuleStep.Channel.PHONE, tier__in=(1, 2), opens_at__lt=now
    ).select_related("step", "contact")
    for task in calls.order_by("opens_at", "pk"):
        if rng.random() < 0.06:
            continue  # never attempted: the tick closes it when its window ends
        made = _call(rng, task, agent, codes, now)
        if not made or made[-1][0] != "reached" or rng.random() < 0.3:
            continue
        template = (task.step.survey if task.step else None) or SurveyTemplate.objects.filter(
            published__isnull=False
        ).order_by("pk").first()
        if template is None:
            continue
        version = surveys.setdefault(template.pk, template.published)
        response_submit(
            version,
            _survey_values(rng, version, happy=rng.random() > 0.08),
            contact=task.contact,
            source="call",
            task=task,
            agent=agent,
            now=made[-1][1] + timedelta(minutes=3),
        )
    # Most complaints the low scores raised have been answered by now, some late.
    for complaint in Complaint.objects.filter(status=Complaint.Status.OPEN).order_by("pk"):
        if rng.random() < 0.85:
            replied = complaint.created_at + timedelta(days=rng.choice((1, 2, 3, 5, 9)))
            if replied < now:
                complaint_move(
                    complaint,
                    supervisor,
                    Complaint.Status.REPLIED,
                    reply="已电话回访并致歉，问题已转科室处理。" if chinese else "Called back.",
                    now=replied,
                )
    # What the five-minute tick would have done meanwhile: windows that ended are closed.
    followup_tick(now=now)
    return len(encounters)
