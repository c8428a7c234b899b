"""factory_boy factories. Staff factories write into whatever schema is current: wrap them
in ``tenant_context`` (the ``in_tenant`` fixture) for clinic staff."""

import time

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

PASSWORD = "correct horse battery"
# Roles that must sign in with a second step (saas.two_step.REQUIRED_ROLES): their factory
# staff have an authenticator app, as they would after their first sign-in.
TWO_STEP_ROLES = ("admin", "supervisor")


def authenticator_add(user) -> TOTPDevice:
    """A confirmed authenticator app for ``user`` (its key is random, read back by
    ``totp_code``)."""
    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def totp_code(device: TOTPDevice) -> str:
    """The code the user's phone shows now, as any authenticator app computes it. When this
    time step's code was taken already (a second sign-in within 30 s), the next step's, which
    the server accepts as a phone's clock a little ahead."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if totp.t() <= device.last_t:
        totp.time = device.t0 + (device.last_t + 1) * device.step
    return f"{totp.token():0{device.digits}d}"


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
    def _create(cls, model_class, *args, role="agent", two_step=None, **kwargs):
        """``two_step``: give them an authenticator app (default: the roles that need one)."""
        user = super()._create(model_class, *args, **kwargs)
        user.groups.set([Group.objects.get(name=role)])
        if two_step if two_step is not None else role in TWO_STEP_ROLES:
            authenticator_add(user)
        return user


class VendorStaffFactory(factory.django.DjangoModelFactory):
    """A CareBridge employee in the public schema, allowed into the vendor console."""

    class Meta:
        model = get_user_model()

    email = factory.Sequence(lambda n: f"vendor{n}@carebridge.test")
    username = factory.SelfAttribute("email")
    password = factory.django.Password(PASSWORD)
    is_staff = True

    @classmethod
    def _create(cls, model_class, *args, two_step=True, **kwargs):
        """Vendor staff must sign in with a second step: an authenticator app by default."""
        user = super()._create(model_class, *args, **kwargs)
        if two_step:
            authenticator_add(user)
        return user


class ContactFactory(factory.django.DjangoModelFactory):
    """A patient with one mobile number (``phone=None`` for none)."""

    class Meta:
        model = "crm.Contact"
        # The phone hook writes its own ContactPhone row and leaves the contact unchanged.
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"患者{n}")
    record_no = factory.Sequence(lambda n: f"ZY{n:06d}")

    @factory.post_generation
    def phone(self, create, value, **kwargs):
        if value == "":  # phone="" : a contact without any number
            return
        from crm.models import ContactPhone

        ContactPhone.objects.create(contact=self, number=value or f"+86138{self.pk:08d}")


class EncounterFactory(factory.django.DjangoModelFactory):
    """A discharge (cured) of a new contact, now."""

    class Meta:
        model = "crm.Encounter"

    contact = factory.SubFactory(ContactFactory)
    kind = "discharge"
    discharge_outcome = "cured"
    occurred_at = factory.LazyFunction(timezone.now)


class RuleFactory(factory.django.DjangoModelFactory):
    """A rule for discharges with one phone step "Day 3" (window day 3–3)."""

    class Meta:
        model = "crm.FollowUpRule"
        # The steps hook writes its own RuleStep rows and leaves the rule unchanged.
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Rule {n}")
    match_kinds = factory.LazyFunction(lambda: ["discharge"])

    @factory.post_generation
    def steps(self, create, value, **kwargs):
        from crm.models import RuleStep

        for position, spec in enumerate(value if value is not None else [{}]):
            RuleStep.objects.create(
                rule=self,
                position=position,
                **{"name": "Day 3", "offset_days": 3, "due_days": 3, **spec},
            )
