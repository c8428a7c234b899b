import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import translation
from django_tenants.utils import schema_exists

from crm.models import Department
from crm.roles import Role
from tenants import presets, schemas
from tenants.models import Domain, PooledSchema, Tenant
from tenants.services import tenant_provision, tenant_reactivate, tenant_suspend


def provision(slug="gamma", **overrides):
    args = {
        "name": "Gamma Clinic",
        "slug": slug,
        "kind": "aesthetic",
        "admin_email": "Owner@Gamma.test",
        "use_pool": False,
    }
    return tenant_provision(**{**args, **overrides})


def counts():
    return (Tenant.objects.count(), Domain.objects.count())


def test_provision_creates_tenant_domain_schema_preset_and_admin(
    db, in_tenant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = provision()

    tenant = result.tenant
    assert result.method == "clone"
    assert tenant.schema_name == "gamma"
    assert tenant.status == Tenant.Status.TRIAL
    assert tenant.timezone == "Asia/Shanghai"
    assert list(tenant.domains.values_list("domain", "is_primary")) == [("gamma.localhost", True)]
    assert schema_exists("gamma")
    with in_tenant(tenant):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        assert set(
            Group.objects.filter(name__in=Role.values).values_list("name", flat=True)
        ) == set(Role.values)
        assert Group.objects.get(name="admin").permissions.filter(codename="change_user").exists()
        assert (
            not Group.objects.get(name="agent").permissions.filter(codename="change_user").exists()
        )
        assert list(Department.objects.order_by("code").values_list("code", "name"))[:2] == [
            ("consultation", "咨询中心"),
            ("customer-service", "客服中心"),
        ]
        assert Department.objects.count() == 5
        admin = get_user_model().objects.get()
        assert admin.email == "owner@gamma.test"
        assert not admin.has_usable_password()
        assert list(admin.groups.values_list("name", flat=True)) == ["admin"]
    assert result.set_password_url.startswith("https://gamma.localhost/accounts/reset/")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["owner@gamma.test"]
    assert result.set_password_url in mail.outbox[0].body
    assert "Gamma Clinic" in mail.outbox[0].subject


def test_provision_in_english_names_departments_in_english(db, in_tenant):
    result = provision(kind="dental", locale="en")

    with in_tenant(result.tenant):
        assert Department.objects.get(code="orthodontics").name == "Orthodontics"


def test_provision_by_migrations_when_no_template_is_used(db, in_tenant):
    result = provision(use_template=False)

    assert result.method == "migrations"
    with in_tenant(result.tenant):
        assert Department.objects.count() == 5


def test_provision_takes_a_pooled_schema_first(db):
    schemas.pool_refill(1)
    pooled = PooledSchema.objects.get().schema_name

    result = provision(use_pool=True)

    assert result.method == "pool"
    assert PooledSchema.objects.count() == 0
    assert not schema_exists(pooled)
    assert schema_exists("gamma")


@pytest.mark.parametrize(
    ("slug", "code"),
    [
        ("a", "invalid_slug"),
        ("-gamma", "invalid_slug"),
        ("gamma-", "invalid_slug"),
        ("gam--ma", "invalid_slug"),
        ("gam_ma", "invalid_slug"),
        ("gam.ma", "invalid_slug"),
        ("1gamma", "invalid_slug"),
        ("x" * 41, "invalid_slug"),
        ("www", "reserved_slug"),
        ("public", "reserved_slug"),
        ("console", "reserved_slug"),
        ("alpha", "duplicate_slug"),
        ("ALPHA", "duplicate_slug"),
    ],
)
def test_provision_refuses_bad_slugs_and_creates_nothing(db, slug, code):
    before = counts()

    with pytest.raises(ValidationError) as error:
        provision(slug=slug)

    assert error.value.code == code
    assert counts() == before
    assert not schema_exists("gamma")


def test_provision_refuses_a_bad_admin_email(db):
    before = counts()

    with translation.override("en"), pytest.raises(ValidationError) as error:
        provision(admin_email="not-an-email")

    assert error.value.messages == ["Enter a valid email address for the administrator."]
    assert counts() == before
    assert not schema_exists("gamma")


def test_provision_failure_leaves_no_row_domain_or_schema(db, monkeypatch):
    def broken_step(*, kind, locale):
        raise RuntimeError("preset failed")

    monkeypatch.setattr(presets, "PRESET_STEPS", [*presets.PRESET_STEPS, broken_step])
    before = counts()

    with pytest.raises(RuntimeError, match="preset failed"):
        provision()

    connection.set_schema_to_public()
    assert counts() == before
    assert not Tenant.objects.filter(schema_name="gamma").exists()
    assert not schema_exists("gamma")
    assert mail.outbox == []


def test_provision_command_prints_the_set_password_link(db, capsys):
    call_command(
        "provision_tenant",
        "--name=Delta",
        "--slug=delta",
        "--kind=service",
        "--admin-email=ops@delta.test",
        "--no-pool",
    )

    out = capsys.readouterr().out
    assert "Tenant delta ready at delta.localhost" in out
    assert "Set-password link for ops@delta.test: https://delta.localhost/accounts/reset/" in out


def test_provision_command_reports_a_bad_slug(db):
    with translation.override("en"), pytest.raises(CommandError, match="is reserved"):
        call_command(
            "provision_tenant", "--name=X", "--slug=www", "--kind=service", "--admin-email=a@b.test"
        )
    assert not Tenant.objects.filter(name="X").exists()


def test_suspend_and_reactivate_are_audited(tenant_a, vendor_staff):
    tenant_suspend(tenant=tenant_a, actor=vendor_staff, reason="unpaid")
    tenant_a.refresh_from_db()
    assert tenant_a.status == Tenant.Status.SUSPENDED

    tenant_reactivate(tenant=tenant_a, actor=vendor_staff)
    tenant_a.refresh_from_db()
    assert tenant_a.status == Tenant.Status.ACTIVE
    from tenants.models import ConsoleAuditEntry

    assert list(ConsoleAuditEntry.objects.order_by("id").values_list("action", "detail")) == [
        ("status_changed", {"from": "trial", "to": "suspended", "reason": "unpaid"}),
        ("status_changed", {"from": "suspended", "to": "active", "reason": ""}),
    ]


def test_template_refresh_keeps_template_current_and_drops_stale_pool(db):
    PooledSchema.objects.create(schema_name="_pool_stale", migration_fingerprint="old")
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "_pool_stale"')

    schemas.template_refresh()

    assert schemas.template_is_current()
    assert not PooledSchema.objects.filter(schema_name="_pool_stale").exists()
    assert not schema_exists("_pool_stale")


def test_claiming_a_pooled_schema_refills_the_pool(
    db, settings, django_capture_on_commit_callbacks
):
    settings.TENANT_POOL_SIZE = settings.TENANT_POOL_MAX = 1
    schemas.pool_refill(1)

    with django_capture_on_commit_callbacks(execute=True):
        result = provision(use_pool=True)

    assert result.method == "pool"
    assert PooledSchema.objects.count() == 1
    assert schema_exists(PooledSchema.objects.get().schema_name)
