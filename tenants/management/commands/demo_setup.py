"""Make the local demo: the public site, a vendor staff login and three demo tenants with a
demo admin, agent, supervisor and clinician each. Safe to run again: existing data is kept."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import connection
from django_tenants.utils import tenant_context

from crm.models import Department, FollowUpRule, RuleStep
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
]
VENDOR_EMAIL = "vendor@carebridge.example"
# Besides the admin: one login per working role, to try the worklist, spot checks and tier 1.
DEMO_ROLES = ("agent", "supervisor", "clinician")


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
}


def _demo_sms_survey(kind: str, locale: str) -> None:

    kinds, name_zh, name_en = DEMO_SMS_SURVEY[kind]
    name = name_zh if locale.startswith("zh") else name_en
    survey = SurveyTemplate.objects.filter(published__isnull=False).order_by("pk").first()
    rule = FollowUpRule.objects.create(
        name=name, match_kinds=kinds, exclude_outcomes=["died"], position=99
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


class Command(BaseCommand):
    help = "Create the demo tenants and logins (idempotent)."

    def handle(self, *args, **options):
        public_tenant_ensure()
        _demo_user(VENDOR_EMAIL, is_staff=True)
        lines = []
        for slug, name, kind, locale in DEMO_TENANTS:
            tenant = Tenant.objects.filter(schema_name=slug).first()
            admin_email = f"admin@{slug}.example"
            new = tenant is None
            if new:
                tenant = tenant_provision(
                    name=name, slug=slug, kind=kind, admin_email=admin_email, locale=locale
                ).tenant
                with tenant_context(tenant):
                    _demo_sms_survey(kind, locale)
            with tenant_context(tenant):
                _demo_user(admin_email, role="admin")
                for role in DEMO_ROLES:
                    _demo_user(f"{role}@{slug}.example", role=role)
                _demo_agent_teams(f"agent@{slug}.example")
                if new:
                    # Three months of calls, surveys and complaints for the reports to show.
                    demo_history_seed()
            lines.append(
                f"  {tenant_url(tenant)}\n"
                f"      admin: {admin_email} / {DEMO_PASSWORD}\n"
                + "".join(
                    f"      {role}: {role}@{slug}.example / {DEMO_PASSWORD}\n"
                    for role in DEMO_ROLES
                ).rstrip("\n")
            )
        connection.set_schema_to_public()
        console = site_url(settings.BASE_DOMAIN, "/console/")
        self.stdout.write(
            "\nCareBridge demo\n"
            f"  Vendor console: {console}  ({VENDOR_EMAIL} / {DEMO_PASSWORD})\n"
            "  Demo tenants:\n" + "\n".join(lines) + "\n"
        )
