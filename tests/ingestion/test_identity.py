"""Unit tests of the identity normalization rules (the dbt staging SQL implements the same rules)."""

from __future__ import annotations

import pytest

from ingestion.identity import country_code, mask_email, mask_phone, normalize_email, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  John.Doe@Example.COM ", "john.doe@example.com"),
        ("a@b.c", "a@b.c"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_normalize_email(raw: str | None, expected: str | None) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        # national formats, with the trunk prefix dropped
        ("(212) 555-0100", "US", "+12125550100"),
        ("1-212-555-0100", "US", "+12125550100"),
        ("416.555.0199", "CA", "+14165550199"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("07700 900123", "United Kingdom", "+447700900123"),
        ("030 1234567", "DE", "+49301234567"),
        ("030/1234567", "Germany", "+49301234567"),
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("138 0013 8000", "CN", "+8613800138000"),
        ("03-1234-5678", "JP", "+81312345678"),
        ("(02) 9876 5432", "AU", "+61298765432"),
        ("020-123 4567", "NL", "+31201234567"),
        ("912 345 678", "ES", "+34912345678"),
        ("06 1234 5678", "IT", "+390612345678"),  # Italian numbers keep their leading 0
        # international formats: the country does not matter
        ("+44 20 7946 0958", None, "+442079460958"),
        ("0044 20 7946 0958", "US", "+442079460958"),
        ("+44 (0)20 7946 0958", "GB", "+442079460958"),
        ("+86 138-0013-8000", "cn", "+8613800138000"),
        ("+1 212 555 0100 ext. 12", "US", "+12125550100"),
        # cannot be normalized with confidence
        ("555-0100", "US", None),  # too short
        ("020 7946 0958", None, None),  # national number, unknown country
        ("020 7946 0958", "BR", None),  # country without a calling-code entry
        ("+999 123456789", None, None),  # unknown calling code
        ("call me", "US", None),
        ("", "US", None),
        (None, "US", None),
    ],
)
def test_normalize_phone(raw: str | None, country: str | None, expected: str | None) -> None:
    assert normalize_phone(raw, country) == expected


def test_country_code_accepts_codes_and_common_names() -> None:
    assert [country_code(c) for c in ("gb", " UK ", "Deutschland", "USA", "Narnia", None)] == [
        "GB",
        "GB",
        "DE",
        "US",
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("john.doe@example.com", "j***@example.com"),
        (" John.Doe@Example.com ", "j***@example.com"),
        ("x@example.org", "x***@example.org"),
        ("not-an-email", "***"),
        ("", None),
        (None, None),
    ],
)
def test_mask_email(raw: str | None, expected: str | None) -> None:
    assert mask_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+8613800138000", "+86 *** **** 8000"),
        ("+12125550100", "+1 *** **** 0100"),
        ("+442079460958", "+44 *** **** 0958"),
        ("02079460958", None),  # not E.164: normalize first
        ("+999123456789", None),
        ("", None),
        (None, None),
    ],
)
def test_mask_phone(raw: str | None, expected: str | None) -> None:
    assert mask_phone(raw) == expected


def test_masked_values_never_contain_the_full_value() -> None:
    email, phone = "john.doe@example.com", "+8613800138000"
    assert "john.doe" not in (mask_email(email) or "")
    assert "13800138" not in (mask_phone(phone) or "")
