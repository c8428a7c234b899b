"""Phone numbers: the fast path for plainly written mainland mobile numbers (one
libphonenumber check per 7-digit block, then a cache) gives exactly libphonenumber's answer."""

import random

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from crm import phones


def libphonenumber(text: str, region: str) -> str | None:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalised(text: str, region: str) -> str | None:
    try:
        return phones.phone_normalise(text, region)
    except ValidationError:
        return None


@pytest.fixture
def empty_cache(monkeypatch):
    monkeypatch.setattr(phones, "_MOBILE_BLOCK_VALID", {})


def test_every_mobile_prefix_gets_libphonenumbers_answer_for_any_number_of_its_block(empty_cache):
    # One block per 5-digit prefix (valid and invalid ones alike); the first number of a
    # block fills the cache, the other two are answered from it.
    rnd = random.Random(20261123)
    disagreements = []
    for prefix in range(10_000):
        block = f"1{prefix:04d}{rnd.randrange(100):02d}"
        for _ in range(3):
            number = f"{block}{rnd.randrange(10_000):04d}"
            for text, region in ((number, "CN"), (f"+86{number}", "CN"), (f"+86{number}", "US")):
                if normalised(text, region) != libphonenumber(text, region):
                    disagreements.append((text, region))
    assert disagreements == []
    assert len(phones._MOBILE_BLOCK_VALID) == 10_000


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("13800138000", "CN"),
        ("+8613800138000", "CN"),
        ("+86 138 0013 8000", "CN"),  # spaces: the full parse
        ("138-0013-8000", "CN"),
        ("0571-88881234", "CN"),  # a landline
        ("1380013800", "CN"),  # a digit short
        ("138001380001", "CN"),  # a digit too many
        ("12345678901", "CN"),  # no such mobile block
        ("13800138000", "US"),  # not read as Chinese outside region CN
        ("+8612345678901", "US"),
        ("２３８００１３８０００", "CN"),  # full-width digits: the full parse
        ("+1 650 253 0000", "CN"),
    ],
)
def test_other_shapes_and_invalid_numbers_agree_with_libphonenumber(empty_cache, text, region):
    assert normalised(text, region) == libphonenumber(text, region)


def test_an_invalid_mobile_number_has_the_usual_message(empty_cache):
    with translation.override("en"), pytest.raises(ValidationError) as error:
        phones.phone_normalise("12345678901", "CN")
    assert error.value.messages == ["“12345678901” is not a valid phone number."]
