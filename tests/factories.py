"""factory_boy factories. Staff factories write into whatever schema is current: wrap them
in ``tenant_context`` (the ``in_tenant`` fixture) for clinic staff."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

PASSWORD = "correct horse battery"


class StaffFactory(factory.django.DjangoModelFactory):
    """A clinic staff member; ``role=`` names their role group (default agent)."""

    class Meta:
        model = get_user_model()

    email = factory.Sequence(lambda n: f"staff{n}@clinic.test")
    username = factory.SelfAttribute("email")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"Staff{n}")
    password = factory.django.Password(PASSWORD)

    @classmethod
    def _create(cls, model_class, *args, role="agent", **kwargs):
        user = super()._create(model_class, *args, **kwargs)
        user.groups.set([Group.objects.get(name=role)])
        return user


class VendorStaffFactory(factory.django.DjangoModelFactory):
    """A CareBridge employee in the public schema, allowed into the vendor console."""

    class Meta:
        model = get_user_model()

    email = factory.Sequence(lambda n: f"vendor{n}@carebridge.test")
    username = factory.SelfAttribute("email")
    password = factory.django.Password(PASSWORD)
    is_staff = True
