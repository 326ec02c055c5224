"""Column contracts of the three landing-zone sources.

A contract says, per source, which columns a file must have, how each value is typed in the ``raw`` schema and
which row rules send a row to quarantine instead of the raw table. The loader (``ingestion.loader``) turns a
contract into one vectorized DuckDB query; nothing here touches data.

Column names in files are matched case-insensitively after trimming; anything not in the contract is kept in the
row's ``_extra`` JSON object.

Text values are trimmed of surrounding spaces; an empty value is a missing value (NULL).

**Ids** (columns declared with ``id=True``: every key and every reference to another source's key, in every source
alike) are normalized before any rule is checked, because exports and spreadsheets add invisible characters that
would otherwise make two spellings of one id look like two ids:

- surrounding white space is removed, including non-breaking spaces (U+00A0, U+202F, U+2007) and the other Unicode
  spaces (``ID_SPACES``);
- zero-width characters are removed wherever they are (U+200B, U+200C, U+200D, U+2060 and U+FEFF,
  ``ID_INVISIBLE``);
- nothing else: ids stay case-sensitive (``C001`` and ``c001`` are two ids), and inner spaces are kept.

An id that still contains a control character (U+0000-U+001F, U+007F-U+009F) after that is quarantined; any other
text column only refuses NUL (U+0000), so that free text keeps its tabs and line breaks. A value delivered as a
JSON object or array (or a nested Parquet value) is never accepted as text.

**Amounts** (``decimal`` columns) are stored as ``DECIMAL(18,2)``. A value whose absolute value exceeds
``MAX_AMOUNT`` is quarantined as too large, so that every value the contract admits fits the raw table and leaves
head room for currency conversion and sums downstream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["text", "timestamp", "decimal", "integer", "boolean", "date"]

#: Largest absolute amount the contract admits (10^15, one quadrillion in the file's currency). Raw amounts are
#: DECIMAL(18,2), which holds values up to 10^16 - 0.01.
MAX_AMOUNT = 10**15

#: White space trimmed from both ends of an id: ASCII white space and every Unicode space (Unicode White_Space),
#: including the non-breaking spaces U+00A0, U+202F and U+2007.
ID_SPACES = " \t\n\r\v\f\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"

#: Invisible characters removed from anywhere in an id: zero-width space, non-joiner, joiner, word joiner and the
#: zero-width no-break space (byte order mark).
ID_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"

#: SQL type of each contract type in the raw tables.
SQL_TYPES: dict[str, str] = {
    "text": "VARCHAR",
    "timestamp": "TIMESTAMP",  # UTC, naive
    "decimal": "DECIMAL(18,2)",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "date": "DATE",
}

#: Accepted spellings of booleans (compared after trim + lower case).
TRUE_VALUES = ("true", "t", "yes", "1")
FALSE_VALUES = ("false", "f", "no", "0")


@dataclass(frozen=True)
class Column:
    """One column of a source contract.

    Attributes:
        name: column name in the raw table (and, case-insensitively, in the file).
        type: contract type, see ``SQL_TYPES``.
        required: the column must exist in every file; a file without it fails.
        not_empty: a row whose value is empty (or the key is missing) is quarantined.
        key: the source's primary key (staging de-duplicates on it; raw keeps every version).
        id: the column holds an id (a key or a reference to one): normalized as the module docstring says, and
            refused when it holds control characters.
        case: normalize text values to ``lower`` or ``upper`` case before checks.
        allowed: accepted values (after ``case``); anything else is quarantined.
        pattern: regular expression a text value must fully match.
        pattern_hint: what the pattern means, for the quarantine reason.
        minimum / maximum: inclusive bounds for numbers.
        hint: what a user should do about an empty value.
    """

    name: str
    type: ColumnType = "text"
    required: bool = False
    not_empty: bool = False
    key: bool = False
    id: bool = False
    case: Literal["lower", "upper"] | None = None
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    pattern_hint: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    hint: str | None = None

    @property
    def sql_type(self) -> str:
        """DuckDB type of the column in the raw table."""
        return SQL_TYPES[self.type]


@dataclass(frozen=True)
class NotGreaterThan:
    """Cross-column rule: ``column`` must not exceed ``other`` when both are present."""

    column: str
    other: str
    explanation: str


@dataclass(frozen=True)
class Contract:
    """The contract of one source: its columns (in raw-table order) and cross-column rules."""

    source: str
    columns: tuple[Column, ...]
    cross_rules: tuple[NotGreaterThan, ...] = field(default=())

    @property
    def table(self) -> str:
        """Qualified name of the raw table."""
        return f"raw.{self.source}"

    @property
    def key(self) -> str:
        """Name of the key column."""
        return next(c.name for c in self.columns if c.key)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns every file must have."""
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        return next(c for c in self.columns if c.name == name)


ORDER_STATUSES = ("completed", "cancelled", "refunded", "pending")

ORDERS = Contract(
    source="orders",
    columns=(
        Column("order_id", required=True, not_empty=True, key=True, id=True),
        Column(
            "customer_id",
            required=True,
            not_empty=True,
            id=True,
            hint="every order must name the CRM customer it belongs to",
        ),
        Column("order_ts", "timestamp", required=True, not_empty=True),
        Column("status", required=True, not_empty=True, case="lower", allowed=ORDER_STATUSES),
        Column(
            "currency",
            required=True,
            not_empty=True,
            case="upper",
            pattern="[A-Z]{3}",
            pattern_hint="a 3-letter ISO 4217 code such as EUR or USD",
        ),
        Column("gross_amount", "decimal", required=True, not_empty=True, minimum=0),
        Column("discount_amount", "decimal", minimum=0),
        Column("cost_amount", "decimal", minimum=0),
        Column("channel"),
        Column("product_category"),
        Column("updated_at", "timestamp"),
    ),
    cross_rules=(
        NotGreaterThan(
            "discount_amount", "gross_amount", "a discount cannot be larger than the order's gross amount"
        ),
    ),
)

CONTACTS = Contract(
    source="contacts",
    columns=(
        Column("contact_id", required=True, not_empty=True, key=True, id=True),
        Column(
            "customer_id",
            required=True,
            not_empty=True,
            id=True,
            hint="every contact must belong to a customer account (use the contact_id for consumers)",
        ),
        Column("full_name"),
        Column("email", required=True),  # the column is required; a contact without an email is allowed
        Column("phone"),
        Column("company_name"),
        Column("job_title"),
        Column("is_primary", "boolean"),
        Column("country"),
        Column("region"),
        Column("city"),
        Column("industry"),
        Column("account_manager"),
        Column("acquisition_channel"),
        Column("created_at", "timestamp"),
        Column("updated_at", "timestamp"),
        Column("birthday", "date"),
        Column("email_opt_in", "boolean"),
    ),
)

SURVEY_RESPONSES = Contract(
    source="survey_responses",
    columns=(
        Column("response_id", required=True, not_empty=True, key=True, id=True),
        Column("survey_name"),
        Column("submitted_at", "timestamp", required=True, not_empty=True),
        Column("respondent_email"),
        Column("contact_id", id=True),
        Column("nps_score", "integer", required=True, not_empty=True, minimum=0, maximum=10),
        Column("csat_product", "integer", minimum=1, maximum=5),
        Column("csat_service", "integer", minimum=1, maximum=5),
        Column("csat_price", "integer", minimum=1, maximum=5),
        Column("is_complaint", "boolean"),
        Column("complaint_category"),
        Column("comment"),
    ),
)

CONTRACTS: dict[str, Contract] = {c.source: c for c in (ORDERS, CONTACTS, SURVEY_RESPONSES)}

#: The landing sources, in load order.
SOURCES: tuple[str, ...] = tuple(CONTRACTS)

#: Metadata columns appended to every raw table, in order.
METADATA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_file_id", "BIGINT"),
    ("_source_file", "VARCHAR"),
    ("_source_line", "BIGINT"),
    ("_loaded_at", "TIMESTAMP"),
    ("_extra", "JSON"),
)
