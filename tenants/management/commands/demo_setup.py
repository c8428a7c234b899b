"""Make the local demo: the public site, a vendor staff login and four demo tenants (a
hospital, an aesthetic clinic, a dental clinic and a car dealer) with a demo admin, agent,
supervisor and clinician each, and the hospital's responsible nurse. Safe to run again:
existing data is kept."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django_tenants.utils import tenant_context

from crm.models import Department, FollowUpRule, RuleStep
from crm.roles import Role
from crm.services.demo import demo_history_seed
from crm.services.staff import staff_set_departments
from surveys.models import SurveyTemplate
from tenants.links import site_url, tenant_url
from tenants.models import Tenant
from tenants.services import public_tenant_ensure, tenant_provision

DEMO_PASSWORD = "carebridge-demo"
DEMO_TENANTS = [
    ("demo-hospital", "示范人民医院", Tenant.Kind.HOSPITAL, Tenant.Locale.ZH_HANS),
    ("demo-aesthetic", "示范医疗美容诊所", Tenant.Kind.AESTHETIC, Tenant.Locale.ZH_HANS),
    ("demo-dental", "Demo Dental Clinic", Tenant.Kind.DENTAL, Tenant.Locale.EN),
    ("demo-service", "示范汽车销售服务店", Tenant.Kind.SERVICE, Tenant.Locale.ZH_HANS),
]
VENDOR_EMAIL = "vendor@carebridge.example"
# Besides the admin: one login per working role, to try the worklist, spot checks and tier 1.
DEMO_ROLES = ("agent", "supervisor", "clinician")
# A hospital calls its cured patients back through their responsible nurse (责任护士): the
# demo hospital's discharges name this login (a clinician, like the attending doctor).
DEMO_NURSE = "nurse"
DEMO_NURSE_KINDS = {Tenant.Kind.HOSPITAL}


def _demo_user(email: str, *, role: str | None = None, is_staff: bool = False) -> None:
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=email, defaults={"email": email, "is_staff": is_staff}
    )
    if created or not user.has_usable_password():
        user.set_password(DEMO_PASSWORD)
        user.save()
    if role:
        user.groups.set([Group.objects.get(name=role)])


# SMS costs the clinic money, so presets call and leave texting to each clinic's choice; the
# demo opts in to show the whole path: a satisfaction survey link by SMS shortly after the
# visit (Rules page: the step's channel "Survey link").
DEMO_SMS_SURVEY = {
    Tenant.Kind.HOSPITAL: (["discharge"], "出院满意度短信", "Satisfaction survey by SMS"),
    Tenant.Kind.AESTHETIC: (["surgery", "treatment_course"], "术后满意度短信", "Survey by SMS"),
    Tenant.Kind.DENTAL: (["outpatient", "surgery"], "就诊满意度短信", "Visit survey by SMS"),
    Tenant.Kind.SERVICE: (["sale", "maintenance"], "满意度短信", "Satisfaction survey by SMS"),
}


def _demo_sms_survey(kind: str, locale: str) -> None:

    kinds, name_zh, name_en = DEMO_SMS_SURVEY[kind]
    name = name_zh if locale.startswith("zh") else name_en
    survey = SurveyTemplate.objects.filter(published__isnull=False).order_by("pk").first()
    # First: an exclusive preset rule (a hospital's discharge follow-up by outcome) would
    # keep a rule after it from the discharges it matches.
    rule = FollowUpRule.objects.create(
        name=name, match_kinds=kinds, exclude_outcomes=["died"], position=0
    )
    RuleStep.objects.create(
        rule=rule, name=name, offset_days=1, due_days=2, channel="survey_link", survey=survey
    )


def _demo_agent_teams(email: str) -> None:
    """The demo agent works in every team the preset rules route calls to (an aesthetic
    clinic's post-op care team …), so their worklist's "my departments" shows those calls."""
    teams = Department.objects.filter(pk__in=RuleStep.objects.exclude(team=None).values("team"))
    if teams.exists():
        staff_set_departments(user=get_user_model().objects.get(username=email), departments=teams)


def _demo_staff(slug: str, kind: str) -> dict:
    """Who the made-up encounters name as attending doctor and responsible nurse, so the
    tier-1 calls the preset routes to them show on their worklists. A car dealer has
    neither."""
    if kind == Tenant.Kind.SERVICE:
        return {}
    users = get_user_model().objects.filter(username__endswith=f"@{slug}.example")
    return {
        "doctors": list(users.filter(username=f"clinician@{slug}.example")),
        "nurses": list(users.filter(username=f"{DEMO_NURSE}@{slug}.example")),
    }


class Command(BaseCommand):
    help = "Create the demo tenants and logins (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "slugs",
            nargs="*",
            metavar="slug",
            help="Only these demo tenants (default: all of them).",
        )

    def handle(self, *args, **options):
        known = [slug for slug, *_rest in DEMO_TENANTS]
        unknown = sorted(set(options["slugs"]) - set(known))
        if unknown:
            raise CommandError(
                f"No demo tenant is called {', '.join(unknown)}; they are: {', '.join(known)}."
            )
        public_tenant_ensure()
        _demo_user(VENDOR_EMAIL, is_staff=True)
        lines = []
        for slug, name, kind, locale in DEMO_TENANTS:
            if options["slugs"] and slug not in options["slugs"]:
                continue
            tenant = Tenant.objects.filter(schema_name=slug).first()
            admin_email = f"admin@{slug}.example"
            new = tenant is None
            if new:
                tenant = tenant_provision(
                    name=name, slug=slug, kind=kind, admin_email=admin_email, locale=locale
                ).tenant
                with tenant_context(tenant):
                    _demo_sms_survey(kind, locale)
            logins = [(role, role) for role in DEMO_ROLES]
            if kind in DEMO_NURSE_KINDS:
                logins.append((DEMO_NURSE, Role.CLINICIAN))
            with tenant_context(tenant):
                _demo_user(admin_email, role="admin")
                for login, role in logins:
                    _demo_user(f"{login}@{slug}.example", role=role)
                _demo_agent_teams(f"agent@{slug}.example")
                if new:
                    # Three months of calls, surveys and complaints for the reports to show.
                    demo_history_seed(**_demo_staff(slug, kind))
            lines.append(
                f"  {tenant_url(tenant)}\n"
                f"      admin: {admin_email} / {DEMO_PASSWORD}\n"
                + "".join(
                    f"      {login}: {login}@{slug}.example / {DEMO_PASSWORD}\n"
                    for login, _role in logins
                ).rstrip("\n")
            )
        connection.set_schema_to_public()
        console = site_url(settings.BASE_DOMAIN, "/console/")
        self.stdout.write(
            "\nCareBridge demo\n"
            f"  Vendor console: {console}  ({VENDOR_EMAIL} / {DEMO_PASSWORD})\n"
            "  Demo tenants:\n" + "\n".join(lines) + "\n"
        )
