"""Great Expectations suites of the quality gate, as code: what the dbt tests cannot express.

Row-level rules (keys unique and not null, accepted values, value ranges, one row per customer) are dbt tests in
the models' YAML, where they run on every engine next to the model; repeating them here would only run them twice.
The suites keep what needs more than one row, history or a pattern:

* the *table suite* of ``customer_360`` (`build_table_suite`): the table is not empty, published contact data is
  masked (no value that still looks like a raw e-mail or phone number), and null-rate thresholds on profile
  columns (warnings);
* the *gate metrics suite* of ``customer_360`` (`build_gate_metrics_suite`): the vip share within its band, the
  volume against the last publication and the freshness of the newest completed order, validated on a one-row
  DataFrame of metrics that the runner computes with SQL (order-level data never leaves the database).

Every expectation carries its severity in ``meta["severity"]``: ``blocking`` failures hold back the publication,
``warning`` failures are recorded only.

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
    """Keyword arguments that tag an expectation with its severity (and an optional note shown with a failure).

    The gate reads ``meta["severity"]``; GX's own ``severity`` field is set to match (critical / warning) so that
    GX's own reports (``get_max_severity_failure``) agree with it.
    """
    tags: dict[str, Any] = {
        "meta": {"severity": severity},
        "severity": FailureSeverity.WARNING if severity == "warning" else FailureSeverity.CRITICAL,
    }
    if note:
        tags["notes"] = note
    return tags


def _non_empty() -> Expectation:
    return gx.expectations.ExpectTableRowCountToBeBetween(
        min_value=1, **_tags("blocking", "an empty customer table is never a valid build")
    )


def _customer_360(config: GateConfig) -> list[Expectation]:
    expectations: list[Expectation] = [
        _non_empty(),
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


_TABLE_SUITE_BUILDERS = {
    "customer_360": _customer_360,
}
if tuple(_TABLE_SUITE_BUILDERS) != SUITE_TABLES:
    raise RuntimeError(
        f"expectations/tables.py lists {SUITE_TABLES} but suites.py has suites for {tuple(_TABLE_SUITE_BUILDERS)}; "
        "keep both in the same order"
    )
