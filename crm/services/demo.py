"""A demo clinic's recent past, so that its reports and dashboard have something to show on
the first `./dev run`: three months of discharges (or visits, or a car dealer's sales and
services), planned by the clinic's own rules, the customers of a lapsed-customer rule who
stopped coming half a year ago, called by the demo agent (a tier-1 call by the nurse or
doctor it is assigned to) through the same services the call page uses, with a
realistic mix of outcomes, the survey answered on most reached calls, the complaints low
scores raise and their replies. Seeded random: every demo database looks the same."""

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
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
from .planning import encounters_plan, lapsed_customers_plan

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

# How patients leave hospital, as a discharge register shows it: the regulations route the
# cured to their responsible nurse, the improved and transferred to the attending doctor and
# the rest to the follow-up centre (crm.presets, "hospital").
DISCHARGE_OUTCOMES = [
    (Encounter.Outcome.CURED, 40),
    (Encounter.Outcome.IMPROVED, 44),
    (Encounter.Outcome.UNCHANGED, 7),
    (Encounter.Outcome.TRANSFERRED, 5),
    (Encounter.Outcome.NONE, 2),
    (Encounter.Outcome.SELF_DISCHARGED, 2),
]

# A car dealer's visits: no diagnosis, the car and the work done go in the notes.
VEHICLES = [
    ("示范 S5 1.5T 舒适版", "Demo S5 1.5T Comfort"),
    ("示范 S7 2.0T 四驱旗舰版", "Demo S7 2.0T AWD Flagship"),
    ("示范 M3 1.5L 自动挡", "Demo M3 1.5L Automatic"),
    ("示范 E6 纯电长续航版", "Demo E6 Electric Long Range"),
    ("示范 V8 七座 MPV", "Demo V8 Seven-seat MPV"),
]
SERVICE_WORK = [
    ("首次保养", "First service"),
    ("常规保养（机油、机滤）", "Routine service (oil and filter)"),
    ("更换刹车片", "Brake pads replaced"),
    ("空调系统检修", "Air conditioning repaired"),
    ("四轮定位、轮胎换位", "Wheel alignment and tyre rotation"),
    ("钣金喷漆（保险理赔）", "Bodywork and paint (insurance claim)"),
]
# Whose department each kind of a dealer's visits is.
SERVICE_DEPARTMENTS = {Encounter.Kind.SALE: "sales", Encounter.Kind.MAINTENANCE: "after-sales"}
# The customers whose last visit lies around a lapsed-customer rule's N days: some lapsed
# over this many recent days (their calls are on the worklist), the others lapse over the
# next LAPSING_DAYS, for the tick to plan as the demo goes on.
LAPSED_DAYS = 20
LAPSING_DAYS = 10
# One in this many of them came back meanwhile: the tick plans no call for them.
CAME_BACK_EVERY = 4


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


def _pick(pair: tuple[str, str], chinese: bool) -> str:
    return pair[0] if chinese else pair[1]


def _dealer_notes(rng: random.Random, kind: str, chinese: bool) -> str:
    vehicle = _pick(rng.choice(VEHICLES), chinese)
    if kind == Encounter.Kind.SALE:
        return f"车型：{vehicle}；新车交付" if chinese else f"Vehicle: {vehicle}; new car delivered"
    work = _pick(rng.choice(SERVICE_WORK), chinese)
    km = rng.randrange(3, 120) * 1000
    if chinese:
        return f"车型：{vehicle}；里程：{km} 公里；{work}"
    return f"Vehicle: {vehicle}; mileage {km} km; {work}"


@dataclass
class _History:
    """What every made-up encounter of one clinic draws on."""

    rng: random.Random
    zone: object
    chinese: bool
    departments: list
    by_code: dict
    doctors: Sequence
    nurses: Sequence
    encounters: list = field(default_factory=list)
    contacts: int = 0

    def contact(self) -> Contact:
        self.contacts += 1
        return _contact(self.rng, self.contacts, self.chinese)

    def encounter(self, contact: Contact, kind: str, day) -> Encounter:
        rng = self.rng
        values = {"discharge_outcome": "", "age": rng.randint(18, 85), "notes": ""}
        if kind in SERVICE_DEPARTMENTS:
            department = self.by_code.get(SERVICE_DEPARTMENTS[kind])
            values.update(age=rng.randint(22, 65), notes=_dealer_notes(rng, kind, self.chinese))
        else:
            department = rng.choice(self.departments) if self.departments else None
            if self.doctors:
                values["attending"] = rng.choice(self.doctors)
        if kind == Encounter.Kind.DISCHARGE:
            values["discharge_outcome"] = _weighted(rng, DISCHARGE_OUTCOMES)
            if self.nurses:
                values["responsible_nurse"] = rng.choice(self.nurses)
        encounter = Encounter.objects.create(
            contact=contact,
            kind=kind,
            department=department or (rng.choice(self.departments) if self.departments else None),
            occurred_at=local_midnight(day, self.zone) + timedelta(hours=rng.randint(9, 17)),
            source="demo",
            external_id=f"demo-{len(self.encounters) + 1}",
            **values,
        )
        self.encounters.append(encounter)
        return encounter


@transaction.atomic
def demo_history_seed(
    *,
    days: int = 90,
    per_day: int = 5,
    seed: int = 2026,
    doctors: Sequence = (),
    nurses: Sequence = (),
) -> int:
    """The last `days` days of a demo clinic (about `per_day` encounters a day); nothing when
    the clinic already has encounters. `doctors` and `nurses` are the staff named attending
    and responsible nurse on the encounters (a hospital's tier-1 calls go to them). With a
    lapsed-customer rule, also the customers who lapsed lately and some who came back.
    Returns the encounters made."""
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
    rules = list(FollowUpRule.objects.filter(active=True))
    kinds = sorted(
        {
            kind
            for rule in rules
            if rule.trigger == FollowUpRule.Trigger.ENCOUNTER
            for kind in rule.match_kinds
        }
    ) or ["outpatient"]
    codes = {
        category: OutcomeCode.objects.filter(category=category, active=True).order_by("pk").first()
        for category, _ in CALL_OUTCOMES
    }
    history = _History(
        rng=rng,
        zone=zone,
        chinese=chinese,
        departments=departments,
        by_code={d.code: d for d in departments},
        doctors=list(doctors),
        nurses=list(nurses),
    )

    today = clock.today()
    for back in range(days, 0, -1):
        day = today - timedelta(days=back)
        for _ in range(rng.randint(per_day - 2, per_day + 2)):
            history.encounter(history.contact(), rng.choice(kinds), day)
    for rule in rules:
        if rule.trigger != FollowUpRule.Trigger.LAPSED:
            continue
        # Their last visit was about N days ago; now and then one came back since.
        for back in range(rule.lapse_days + LAPSED_DAYS, rule.lapse_days - LAPSING_DAYS, -1):
            for _ in range(rng.randint(1, 3)):
                contact = history.contact()
                history.encounter(
                    contact, rng.choice(rule.match_kinds or kinds), today - timedelta(days=back)
                )
                if history.contacts % CAME_BACK_EVERY == 0:
                    again = today - timedelta(days=rng.randint(1, min(days, rule.lapse_days)))
                    history.encounter(contact, rng.choice(rule.match_kinds or kinds), again)
    encounters = history.encounters
    encounters_plan([encounter.pk for encounter in encounters], now=now)
    # What the tick planned as customers lapsed (before the calls: they were called too).
    lapsed_customers_plan(now=now)

    surveys = {}
    calls = FollowUpTask.objects.filter(
        encounter__source="demo", channel=RuleStep.Channel.PHONE, tier__in=(1, 2), opens_at__lt=now
    ).select_related("step", "contact", "assignee")
    for task in calls.order_by("opens_at", "pk"):
        if rng.random() < 0.06:
            continue  # never attempted: the tick closes it when its window ends
        # A tier-1 call is made by whom it is assigned to (the responsible nurse …).
        made = _call(rng, task, task.assignee or agent, codes, now)
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
            agent=task.assignee or agent,
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
