"""Phone numbers: parsed with libphonenumber in the tenant's default region, stored in E.164,
shown masked to agents."""

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def phone_normalise(raw: str, region: str) -> str:
    """E.164 form of ``raw`` (national numbers read in ``region``), or ValidationError."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Enter a phone number."), code="required")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            _("“%(number)s” is not a phone number."), code="invalid", params={"number": text}
        ) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(
            _("“%(number)s” is not a valid phone number."),
            code="invalid",
            params={"number": text},
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_display(e164: str, region: str) -> str:
    """National format for numbers of the tenant's region, international otherwise."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if phonenumbers.region_code_for_number(parsed) == region:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_mask(e164: str) -> str:
    """Keep the country code and the last four digits: +86 ••• •••• 5678."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "••••"
    national = str(parsed.national_number)
    return f"+{parsed.country_code} ••• {national[-4:]}"
