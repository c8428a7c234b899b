"""Two-step sign-in (DESIGN.md §9): after the password, a code from an authenticator app (TOTP)
or one of ten one-time recovery codes. Who must use it, enrolment, recovery codes, turning it
off and an administrator's reset. Everything happens in the current schema: vendor staff's
devices live in public, a clinic's staff's in the clinic's schema, so a device or a recovery
code of one clinic means nothing at another."""

from base64 import b32encode
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import segno
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from crm.roles import Role
from crm.selectors import staff_role
from saas import signals

RECOVERY_CODES = 10
# Roles that can see and change the most: a stolen password alone must not open them.
REQUIRED_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR})
AUTHENTICATOR_NAME = "authenticator"
RECOVERY_NAME = "recovery"


def two_step_required(user, tenant) -> bool:
    """Vendor staff (the public schema) always; in a clinic its administrators and
    supervisors, and every role when the clinic requires it (Tenant.require_two_step)."""
    if tenant is None or tenant.is_public:
        return True
    return tenant.require_two_step or staff_role(user) in REQUIRED_ROLES


def second_step_pending(user, tenant) -> bool:
    """Signed in with the password, but not yet with the second step that this user has (an
    authenticator) or must have: pages show no navigation until it is done. A user with
    neither (an agent, where the clinic does not require it) is signed in with the password."""
    if user.is_verified():
        return False
    return authenticator(user) is not None or two_step_required(user, tenant)


def authenticator(user, *, confirmed: bool = True) -> TOTPDevice | None:
    """The user's authenticator app (confirmed), or the one being set up (unconfirmed)."""
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("pk").first()


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def _normalised(code: str) -> str:
    # People copy codes with spaces ("123 456") and recovery codes as printed ("abcd-efgh").
    return "".join(ch for ch in (code or "") if ch not in " -\t").lower()


def _is_app_code(code: str) -> bool:
    return code.isdigit() and len(code) in (6, 8)


@transaction.atomic
def enrolment_start(user) -> TOTPDevice:
    """The unconfirmed authenticator the enrolment page shows: the same one until it is
    confirmed, so reloading the page does not change the QR code under the user's phone."""
    device = authenticator(user, confirmed=False)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def _wrong_code() -> ValidationError:
    return ValidationError(
        _(
            "That code is not right. Enter the code your authenticator app shows now, or one "
            "of your recovery codes; check that your phone sets its time automatically."
        ),
        code="wrong_code",
    )


def _throttled() -> ValidationError:
    return ValidationError(
        _("Too many wrong codes; wait a few seconds and try again."), code="throttled"
    )


def _check(device, code: str) -> None:
    """Verify ``code`` on ``device`` (django-otp's throttling: wrong codes make the next try
    wait 1, 2, 4 … seconds). Raises outside the transaction that recorded the failure."""
    with transaction.atomic():
        locked = type(device).objects.select_for_update().get(pk=device.pk)
        allowed, _details = locked.verify_is_allowed()
        verified = allowed and locked.verify_token(code)
    if not allowed:
        raise _throttled()
    if not verified:
        raise _wrong_code()


def _recovery_codes_replace(user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME)
    codes = [StaticToken.random_token() for _index in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def enrolment_confirm(*, user, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the authenticator being set up with a code it shows; returns it and ten new
    recovery codes (shown once). A wrong code raises ValidationError and changes nothing but
    the device's throttle."""
    device = authenticator(user, confirmed=False)
    if device is None:
        raise _wrong_code()
    _check(device, _normalised(code))
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.refresh_from_db()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_replace(user)
        signals.two_step_changed.send(sender=None, user=user, change=signals.TWO_STEP_ENROLLED)
    return device, codes


def two_step_verify(*, user, code: str):
    """The device that accepts ``code`` at the second step: the authenticator's code, or a
    recovery code, which is used up. ValidationError when it is wrong or throttled."""
    code = _normalised(code)
    if _is_app_code(code):
        device = authenticator(user)
    else:
        device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        raise _wrong_code()
    _check(device, code)
    return device


def recovery_codes_regenerate(*, user, code: str) -> list[str]:
    """Ten new recovery codes in place of the old ones, after a code from the authenticator
    (whoever finds a session left open cannot take them)."""
    device = authenticator(user)
    if device is None or not _is_app_code(_normalised(code)):
        raise _wrong_code()
    _check(device, _normalised(code))
    with transaction.atomic():
        codes = _recovery_codes_replace(user)
        signals.two_step_changed.send(sender=None, user=user, change=signals.TWO_STEP_CODES_RENEWED)
    return codes


def two_step_disable(*, user, tenant, code: str) -> None:
    """Turn two-step sign-in off, after a code, where the user's role does not require it."""
    if two_step_required(user, tenant):
        raise ValidationError(
            _("Your role requires two-step sign-in; it cannot be turned off."), code="required"
        )
    two_step_verify(user=user, code=code)
    with transaction.atomic():
        two_step_reset(user=user)
        signals.two_step_changed.send(sender=None, user=user, change=signals.TWO_STEP_TURNED_OFF)


@transaction.atomic
def two_step_reset(*, user) -> None:
    """Remove the user's authenticator and recovery codes (a lost phone). Where two-step
    sign-in is required, their next page is enrolment."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the QR code as inline SVG (drawn here, no image
    service) and the same secret in groups of four for typing in."""

    qr_svg: str
    secret: str


def enrolment_display(device: TOTPDevice, *, issuer: str) -> Enrolment:
    secret = b32encode(device.bin_key).decode()
    issuer = issuer.replace(":", "")
    label = f"{issuer}:{device.user.get_username()}"
    params = urlencode(
        {"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": device.digits}
        | {"period": device.step},
        quote_via=quote,
    )
    uri = f"otpauth://totp/{quote(label)}?{params}"
    svg = segno.make(uri, error="m").svg_inline(scale=4, border=2, title=issuer)
    grouped = " ".join(secret[index : index + 4] for index in range(0, len(secret), 4))
    return Enrolment(qr_svg=svg, secret=grouped)
