"""Great Expectations suites for the customer-grain marts, as code (SPEC §5).

Every expectation carries its severity in ``meta["severity"]``: ``blocking`` failures hold back the publication,
``warning`` failures are recorded only. Two kinds of suite exist:

* a *table suite* per mart (`build_table_suite`): key, accepted values, ranges, masking and null rates, validated on
  the customer-grain table itself;
* the *gate metrics suite* of ``customer_360`` (`build_gate_metrics_suite`): distribution, volume and freshness
  checks, validated on a one-row DataFrame of metrics that the runner computes with SQL in DuckDB (order-level data
  never leaves the database).

Thresholds live in `GateConfig` (environment variables ``C360_GX_*`` with the defaults below).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any, Literal

import great_expectations as gx
from great_expectations.expectations import Expectation
from great_expectations.expectations.metadata_types import FailureSeverity

from expectations.tables import SUITE_TABLES

Severity = Literal["blocking", "warning"]

VALUE_TIERS: tuple[str, ...] = ("vip", "high", "medium", "low", "none")
LIFECYCLE_STAGES: tuple[str, ...] = (
    "prospect",
    "churned",
    "reactivated",
    "new",
    "declining",
    "growing",
    "mature",
)
# n/a: a prospect (no completed order, no score); churned: past the warning (the lifecycle stage says so).
CHURN_RISK_LEVELS: tuple[str, ...] = ("n/a", "low", "medium", "high", "churned")

# Columns of customer_360 that may be partly empty (profile attributes kept in the CRM), but that are suspicious
# when mostly empty: a null rate above GateConfig.null_rate_warn_max is a warning, never blocking.
NULL_RATE_WARNING_COLUMNS: tuple[str, ...] = ("region", "account_manager")

# A display value that still looks like a raw personal value (no '*' anywhere) fails the masking checks.
RAW_EMAIL_REGEX = r"^[^\s@*]+@[^\s@*]+\.[^\s@*]+$"
RAW_PHONE_REGEX = r"^\+?[0-9][0-9 ().\-]{5,}[0-9]$"

# The staging model that freshness is measured on (newest completed order).
FRESHNESS_SOURCE = "stg_shop__orders"

# Columns of the one-row gate metrics DataFrame.
METRIC_VIP_SHARE = "vip_share"
METRIC_VOLUME_RATIO = "volume_ratio"
METRIC_DAYS_SINCE_NEWEST_ORDER = "days_since_newest_order"

_TABLE_WITH_GATE_METRICS = "customer_360"

_ENV_PREFIX = "C360_GX_"


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the Great Expectations quality gate.

    Attributes:
        vip_share_max: highest allowed share of ``vip`` customers in customer_360 (0-1).
        vip_share_min: lowest allowed share of ``vip`` customers in customer_360 (0-1).
        volume_min_ratio: lowest allowed ratio of customer_360 rows to the previous publication's rows.
        volume_max_ratio: highest allowed ratio of customer_360 rows to the previous publication's rows.
        freshness_max_days: most days allowed between the newest completed order and the as-of date.
        null_rate_warn_max: null rate above which a profile column of customer_360 raises a warning (0-1).
    """

    vip_share_max: float = 0.10
    vip_share_min: float = 0.0
    volume_min_ratio: float = 0.5
    volume_max_ratio: float = 2.0
    freshness_max_days: int = 3
    null_rate_warn_max: float = 0.5

    def __post_init__(self) -> None:
        problems: list[str] = []
        if not 0.0 <= self.vip_share_min <= self.vip_share_max <= 1.0:
            problems.append(
                f"vip share band must satisfy 0 <= min <= max <= 1 (got {self.vip_share_min}..{self.vip_share_max})"
            )
        if not 0.0 < self.volume_min_ratio <= self.volume_max_ratio:
            problems.append(
                "volume band must satisfy 0 < min_ratio <= max_ratio "
                f"(got {self.volume_min_ratio}..{self.volume_max_ratio})"
            )
        if self.freshness_max_days < 0:
            problems.append(f"freshness_max_days must be >= 0 (got {self.freshness_max_days})")
        if not 0.0 <= self.null_rate_warn_max <= 1.0:
            problems.append(f"null_rate_warn_max must be between 0 and 1 (got {self.null_rate_warn_max})")
        if problems:
            raise ValueError(
                "Invalid quality gate configuration: "
                + "; ".join(problems)
                + f". Fix the {_ENV_PREFIX}* environment variables."
            )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> GateConfig:
        """Read the thresholds from ``C360_GX_<FIELD>`` variables (e.g. ``C360_GX_VIP_SHARE_MAX``).

        Unset or empty variables keep the defaults. A value that is not a number raises ``ValueError`` naming the
        variable.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = _ENV_PREFIX + f.name.upper()
            raw = env.get(name, "").strip()
            if not raw:
                continue
            caster = int if f.type in ("int", int) else float
            try:
                values[f.name] = caster(raw)
            except ValueError:
                kind = "an integer" if caster is int else "a number"
                raise ValueError(
                    f"{name}={raw!r} is not {kind}; unset it or give e.g. {f.default!r}."
                ) from None
        return cls(**values)


def suite_tables() -> list[str]:
    """The tables that have a suite, in the order the gate runs them."""
    return list(SUITE_TABLES)


def severity_of(meta: dict[str, Any] | None) -> Severity:
    """Severity stored in an expectation's meta; anything but an explicit ``warning`` is blocking."""
    return "warning" if (meta or {}).get("severity") == "warning" else "blocking"


def has_gate_metrics(table: str) -> bool:
    """Whether the table also gets the distribution / volume / freshness checks of the gate metrics suite."""
    return table == _TABLE_WITH_GATE_METRICS


def build_table_suite(table: str, config: GateConfig) -> gx.ExpectationSuite:
    """The column-level suite of one customer-grain table (validated on the table itself).

    Raises:
        ValueError: the table has no suite (see `suite_tables`).
    """
    try:
        builder = _TABLE_SUITE_BUILDERS[table]
    except KeyError:
        raise ValueError(
            f"No expectation suite for table {table!r}; known tables: {suite_tables()}"
        ) from None
    return gx.ExpectationSuite(name=table, expectations=builder(config))


def build_gate_metrics_suite(
    table: str,
    config: GateConfig,
    *,
    check_vip_share: bool = True,
    check_volume: bool = True,
    check_freshness: bool = True,
) -> gx.ExpectationSuite:
    """The suite validated on the one-row gate metrics DataFrame of `table` (only customer_360 has one).

    The metrics DataFrame has one row with float columns ``vip_share``, ``volume_ratio`` and
    ``days_since_newest_order``; a check whose flag is false is left out (its metric could not be computed, or there
    is nothing to compare with). Each check uses
    ``expect_column_max_to_be_between``: on one row the maximum is the value itself, GX reports it as
    ``observed_value``, and a missing value (NaN) fails instead of passing silently.
    """
    expectations: list[Expectation] = []
    if check_vip_share:
        expectations.append(
            gx.expectations.ExpectColumnMaxToBeBetween(
                column=METRIC_VIP_SHARE,
                min_value=config.vip_share_min,
                max_value=config.vip_share_max,
                **_tags("blocking", "share of vip customers in customer_360"),
            )
        )
    if check_volume:
        expectations.append(
            gx.expectations.ExpectColumnMaxToBeBetween(
                column=METRIC_VOLUME_RATIO,
                min_value=config.volume_min_ratio,
                max_value=config.volume_max_ratio,
                **_tags("blocking", "customer_360 rows / rows of the previous publication"),
            )
        )
    if check_freshness:
        expectations.append(
            gx.expectations.ExpectColumnMaxToBeBetween(
                column=METRIC_DAYS_SINCE_NEWEST_ORDER,
                min_value=0,
                max_value=config.freshness_max_days,
                **_tags(
                    "blocking", f"as-of date minus the newest completed order date in {FRESHNESS_SOURCE}"
                ),
            )
        )
    return gx.ExpectationSuite(name=f"{table}__gate_metrics", expectations=expectations)


# --------------------------------------------------------------------------------------------------------------
# Table suites
# --------------------------------------------------------------------------------------------------------------


def _tags(severity: Severity, note: str | None = None) -> dict[str, Any]:
    """Keyword arguments that tag an expectation with its severity (and an optional note shown in Data Docs).

    The gate reads ``meta["severity"]``; GX's own ``severity`` field is set to match (critical / warning) so that
    ``get_max_severity_failure`` and Data Docs agree with it.
    """
    tags: dict[str, Any] = {
        "meta": {"severity": severity},
        "severity": FailureSeverity.WARNING if severity == "warning" else FailureSeverity.CRITICAL,
    }
    if note:
        tags["notes"] = note
    return tags


def _key(column: str = "customer_id") -> list[Expectation]:
    """Primary key: unique and not null (every customer exactly once)."""
    return [
        gx.expectations.ExpectColumnValuesToNotBeNull(column=column, **_tags("blocking")),
        gx.expectations.ExpectColumnValuesToBeUnique(column=column, **_tags("blocking")),
    ]


def _non_empty() -> Expectation:
    return gx.expectations.ExpectTableRowCountToBeBetween(
        min_value=1, **_tags("blocking", "an empty customer table is never a valid build")
    )


def _not_null(column: str) -> Expectation:
    return gx.expectations.ExpectColumnValuesToNotBeNull(column=column, **_tags("blocking"))


def _in_set(column: str, values: tuple[str, ...]) -> Expectation:
    return gx.expectations.ExpectColumnValuesToBeInSet(
        column=column, value_set=list(values), **_tags("blocking")
    )


def _between(column: str, low: float, high: float) -> Expectation:
    """Range check; nulls are not checked here (add `_not_null` where the column is required)."""
    return gx.expectations.ExpectColumnValuesToBeBetween(
        column=column, min_value=low, max_value=high, **_tags("blocking")
    )


def _customer_360(config: GateConfig) -> list[Expectation]:
    expectations: list[Expectation] = [
        _non_empty(),
        *_key(),
        # Every customer in exactly one tier and one stage: unique key + not-null tier + not-null stage. The
        # not-null checks are also the "share of null tier / stage = 0" distribution checks (unexpected_percent).
        _not_null("value_tier"),
        _in_set("value_tier", VALUE_TIERS),
        _not_null("lifecycle_stage"),
        _in_set("lifecycle_stage", LIFECYCLE_STAGES),
        # Prospects have no risk score: the level (n/a for them) is what every customer has.
        _between("churn_risk_score", 0, 100),
        _not_null("churn_risk_level"),
        _in_set("churn_risk_level", CHURN_RISK_LEVELS),
        _between("health_score", 0, 100),
        _between("latest_nps", 0, 10),
        _between("p_alive", 0, 1),
        gx.expectations.ExpectColumnValuesToBeBetween(
            column="net_revenue_365d", min_value=0, **_tags("blocking")
        ),
        gx.expectations.ExpectColumnValuesToNotMatchRegex(
            column="email_masked",
            regex=RAW_EMAIL_REGEX,
            **_tags("blocking", "published e-mails must be masked (contain '***')"),
        ),
        gx.expectations.ExpectColumnValuesToNotMatchRegex(
            column="phone_masked",
            regex=RAW_PHONE_REGEX,
            **_tags("blocking", "published phone numbers must be masked"),
        ),
    ]
    expectations.extend(
        gx.expectations.ExpectColumnValuesToNotBeNull(
            column=column,
            mostly=round(1.0 - config.null_rate_warn_max, 6),
            **_tags("warning", f"null rate above {config.null_rate_warn_max:.0%} is suspicious"),
        )
        for column in NULL_RATE_WARNING_COLUMNS
    )
    return expectations


def _customer_value_tier(config: GateConfig) -> list[Expectation]:
    return [
        _non_empty(),
        *_key(),
        # RFM scores are null for customers without an order in the last 365 days (tier 'none').
        _between("r_score", 1, 5),
        _between("f_score", 1, 5),
        _between("m_score", 1, 5),
        _not_null("value_tier"),
        _in_set("value_tier", VALUE_TIERS),
    ]


def _customer_lifecycle_stage(config: GateConfig) -> list[Expectation]:
    return [
        _non_empty(),
        *_key(),
        _not_null("lifecycle_stage"),
        _in_set("lifecycle_stage", LIFECYCLE_STAGES),
    ]


def _customer_churn_indicators(config: GateConfig) -> list[Expectation]:
    return [
        _non_empty(),
        *_key(),
        _between("churn_risk_score", 0, 100),
        _not_null("churn_risk_level"),
        _in_set("churn_risk_level", CHURN_RISK_LEVELS),
    ]


def _kpi_satisfaction_by_tier(config: GateConfig) -> list[Expectation]:
    # NPS in percent points (promoters - detractors); null for a tier without responses.
    return [
        _between("nps", -100, 100),
        _between("csat_share", 0, 1),
    ]


_TABLE_SUITE_BUILDERS = {
    "customer_360": _customer_360,
    "customer_value_tier": _customer_value_tier,
    "customer_lifecycle_stage": _customer_lifecycle_stage,
    "customer_churn_indicators": _customer_churn_indicators,
    "kpi_satisfaction_by_tier": _kpi_satisfaction_by_tier,
}
if tuple(_TABLE_SUITE_BUILDERS) != SUITE_TABLES:
    raise RuntimeError(
        f"expectations/tables.py lists {SUITE_TABLES} but suites.py has suites for {tuple(_TABLE_SUITE_BUILDERS)}; "
        "keep both in the same order"
    )
