"""Identity normalization rules for contacts and survey respondents (SPEC §2.2, §6).

These Python functions document and unit-test the rules; the dbt staging models implement the same rules in SQL
so that matching and merging happen in the warehouse. Keep the two in step.

- ``normalize_email``: trim, lower case; empty => ``None``.
- ``normalize_phone``: E.164 (``+<country code><national number>``) for the countries in ``CALLING_CODES``;
  formatting characters are stripped, an international ``00`` prefix is read as ``+`` and a national trunk
  ``0`` is dropped. Anything that cannot be normalized with confidence => ``None``.
- ``mask_email`` / ``mask_phone``: display values for published tables (no raw personal data).
"""

from __future__ import annotations

import re

#: Country (ISO 3166-1 alpha-2, plus common aliases) => (calling code, national trunk prefix or "",
#: (min, max) digits of the national significant number).
CALLING_CODES: dict[str, tuple[str, str, tuple[int, int]]] = {
    "US": ("1", "1", (10, 10)),
    "CA": ("1", "1", (10, 10)),
    "GB": ("44", "0", (9, 10)),
    "DE": ("49", "0", (6, 13)),
    "FR": ("33", "0", (9, 9)),
    "CN": ("86", "0", (9, 11)),
    "JP": ("81", "0", (9, 10)),
    "AU": ("61", "0", (9, 9)),
    "NL": ("31", "0", (9, 9)),
    "ES": ("34", "", (9, 9)),
    "IT": ("39", "", (6, 11)),
}

_COUNTRY_ALIASES = {
    "USA": "US",
    "UNITED STATES": "US",
    "UNITED STATES OF AMERICA": "US",
    "CANADA": "CA",
    "UK": "GB",
    "UNITED KINGDOM": "GB",
    "GREAT BRITAIN": "GB",
    "GERMANY": "DE",
    "DEUTSCHLAND": "DE",
    "FRANCE": "FR",
    "CHINA": "CN",
    "JAPAN": "JP",
    "AUSTRALIA": "AU",
    "NETHERLANDS": "NL",
    "THE NETHERLANDS": "NL",
    "SPAIN": "ES",
    "ITALY": "IT",
}

# Longest calling codes first, so that "+1..." and "+44..." resolve unambiguously.
_CODES_BY_LENGTH = sorted({code for code, _, _ in CALLING_CODES.values()}, key=len, reverse=True)
_FORMATTING = re.compile(r"[\s\-().\/]")
_EXTENSION = re.compile(r"(?:ext\.?|x|#)\s*\d+$", re.IGNORECASE)


def normalize_email(s: str | None) -> str | None:
    """Trim and lower-case an email address; empty or missing => ``None``."""
    if s is None:
        return None
    email = s.strip().lower()
    return email or None


def country_code(country: str | None) -> str | None:
    """ISO alpha-2 code for ``country`` (a code or a common English name), or ``None`` if unknown."""
    if not country:
        return None
    key = country.strip().upper()
    key = _COUNTRY_ALIASES.get(key, key)
    return key if key in CALLING_CODES else None


def normalize_phone(s: str | None, country: str | None) -> str | None:
    """Normalize a phone number to E.164, or return ``None`` when that is not possible.

    Numbers written internationally (``+44 20 7946 0958``, ``0044 20 7946 0958``) are accepted for any of the
    known calling codes; national numbers (``020 7946 0958``) need ``country`` to be one of ``CALLING_CODES``.
    """
    if s is None:
        return None
    raw = _EXTENSION.sub("", s.strip())
    raw = _FORMATTING.sub("", raw)
    if not raw:
        return None
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if raw.startswith("+"):
        digits = raw[1:]
        if not digits.isdigit():
            return None
        for code in _CODES_BY_LENGTH:
            if digits.startswith(code):
                national = digits[len(code) :]
                # "+44 (0)20 ..." style: a trunk 0 written after the country code.
                if national.startswith("0") and code != "39":
                    national = national[1:]
                if _plausible(code, national):
                    return f"+{code}{national}"
        return None
    if not raw.isdigit():
        return None
    iso = country_code(country)
    if iso is None:
        return None
    code, trunk, _ = CALLING_CODES[iso]
    national = raw
    # National significant numbers never start with the trunk prefix, so it is always safe to drop it.
    if trunk and national.startswith(trunk):
        national = national[len(trunk) :]
    return f"+{code}{national}" if _plausible(code, national) else None


def _plausible(code: str, national: str) -> bool:
    """Is ``national`` a plausible national significant number for calling ``code``?"""
    lengths = [bounds for c, _, bounds in CALLING_CODES.values() if c == code]
    if not national.isdigit() or not lengths:
        return False
    low = min(lo for lo, _ in lengths)
    high = max(hi for _, hi in lengths)
    if code == "1" and national[:1] in ("0", "1"):  # NANP area codes never start with 0 or 1
        return False
    return low <= len(national) <= high


def mask_email(s: str | None) -> str | None:
    """Mask an email for display: first character of the local part, then ``***@domain``.

    >>> mask_email("john.doe@example.com")
    'j***@example.com'
    """
    email = normalize_email(s)
    if email is None:
        return None
    local, at, domain = email.rpartition("@")
    if not at or not local:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_phone(s: str | None) -> str | None:
    """Mask an E.164 phone number for display, keeping the calling code and the last 4 digits.

    >>> mask_phone("+8613800138000")
    '+86 *** **** 8000'
    """
    if not s:
        return None
    value = s.strip()
    if not value.startswith("+") or not value[1:].isdigit():
        return None
    digits = value[1:]
    code = next((c for c in _CODES_BY_LENGTH if digits.startswith(c)), None)
    if code is None or len(digits) - len(code) < 5:
        return None
    return f"+{code} *** **** {digits[-4:]}"
