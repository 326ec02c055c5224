"""Column contracts of the three landing-zone sources (SPEC §2).

A contract says, per source, which columns a file must have, how each value is typed in the ``raw`` schema and
which row rules send a row to quarantine instead of the raw table. The loader (``ingestion.loader``) turns a
contract into one vectorized DuckDB query; nothing here touches data.

Column names in files are matched case-insensitively after trimming; anything not in the contract is kept in the
row's ``_extra`` JSON object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["text", "timestamp", "decimal", "integer", "boolean", "date"]

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
        Column("order_id", required=True, not_empty=True, key=True),
        Column(
            "customer_id",
            required=True,
            not_empty=True,
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
        Column("contact_id", required=True, not_empty=True, key=True),
        Column(
            "customer_id",
            required=True,
            not_empty=True,
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
        Column("response_id", required=True, not_empty=True, key=True),
        Column("survey_name"),
        Column("submitted_at", "timestamp", required=True, not_empty=True),
        Column("respondent_email"),
        Column("contact_id"),
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

#: Metadata columns appended to every raw table, in order.
METADATA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_file_id", "BIGINT"),
    ("_source_file", "VARCHAR"),
    ("_source_line", "BIGINT"),
    ("_loaded_at", "TIMESTAMP"),
    ("_extra", "JSON"),
)
