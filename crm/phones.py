"""Phone numbers: parsed with libphonenumber in the tenant's default region, stored in E.164,
shown masked to agents."""

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Mainland mobile numbers are allocated in blocks of 10,000 (the first seven digits: the
# 号段 and the HLR code), and libphonenumber's metadata decides their validity on at most
# those seven digits. A nightly push of 100,000 discharges is mostly such numbers: each block
# is checked with libphonenumber once per process, and a number of a known block costs a dict
# lookup instead of ~45 µs of parsing. The cache stops growing past a bound (there are far
# fewer blocks in use); numbers past it are still checked, only not remembered.
_MOBILE_BLOCK_VALID: dict[str, bool] = {}
_MOBILE_BLOCK_CACHE_MAX = 200_000


def _mainland_mobile(text: str, region: str) -> str | None:
    """The 11 digits of a mainland mobile number written plainly (13800138000 in region CN, or
    +8613800138000 anywhere), else None: any other shape takes the full parse."""
    if text.startswith("+86"):
        digits = text[3:]
    elif region == "CN":
        digits = text
    else:
        return None
    if len(digits) == 11 and digits[0] == "1" and digits.isascii() and digits.isdigit():
        return digits
    return None


def _mobile_block_valid(digits: str) -> bool:
    block = digits[:7]
    valid = _MOBILE_BLOCK_VALID.get(block)
    if valid is None:
        valid = phonenumbers.is_valid_number(phonenumbers.parse("+86" + digits, None))
        if len(_MOBILE_BLOCK_VALID) < _MOBILE_BLOCK_CACHE_MAX:
            _MOBILE_BLOCK_VALID[block] = valid
    return valid


def phone_normalise(raw: str, region: str) -> str:
    """E.164 form of ``raw`` (national numbers read in ``region``), or ValidationError."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError(_("Enter a phone number."), code="required")
    digits = _mainland_mobile(text, region)
    if digits is not None:
        if _mobile_block_valid(digits):
            return "+86" + digits
        raise ValidationError(
            _("“%(number)s” is not a valid phone number."),
            code="invalid",
            params={"number": text},
        )
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
