"""The default plans, so a fresh installation has a pricing page and a trial plan. Vendor
staff edit them (and set their Stripe price ids) in the console."""

from decimal import Decimal

from django.db import migrations

PLANS = [
    {
        "code": "starter", "name": "Starter", "position": 1,
        "description": "For a clinic's front desk.",
        "monthly_price": Decimal("299.00"), "yearly_price": Decimal("2990.00"),
        "staff_seats": 5, "encounters_per_month": 500, "sms_per_month": 500, "storage_gb": 5,
    },
    {
        "code": "professional", "name": "Professional", "position": 2, "is_default": True,
        "description": "For a follow-up centre.",
        "monthly_price": Decimal("999.00"), "yearly_price": Decimal("9990.00"),
        "staff_seats": 25, "encounters_per_month": 5000, "sms_per_month": 5000,
        "storage_gb": 50, "api_access": True, "webhooks": True, "audit_tier3": True,
        "pdf_export": True,
    },
    {
        "code": "enterprise", "name": "Enterprise", "position": 3,
        "description": "For hospitals and groups.",
        "monthly_price": Decimal("4999.00"), "yearly_price": Decimal("49990.00"),
        "staff_seats": None, "encounters_per_month": None, "sms_per_month": 50000,
        "storage_gb": 500, "api_access": True, "webhooks": True, "custom_domain": True,
        "audit_tier3": True, "pdf_export": True,
    },
]  # fmt: skip


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for values in PLANS:
        Plan.objects.get_or_create(code=values["code"], defaults=values)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
