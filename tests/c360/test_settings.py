"""Every setting and every business var is checked before any work, with a message naming it and its range."""

from __future__ import annotations

from pathlib import Path

import pytest

from c360.dbt_vars import VarError, check_vars, defaults, describe, parse_assignments, rules
from c360.settings import DEMO_PII_KEY, SETTINGS, Settings, SettingsError


def test_defaults_parse(tmp_path: Path):
    settings = Settings.from_env({"C360_HOME": str(tmp_path)})
    assert settings.build_db == tmp_path / "warehouse" / "build.duckdb"
    assert settings.published_db == tmp_path / "warehouse" / "published.duckdb"
    assert settings.max_quarantine_share == 0.05
    assert settings.landing_settle_seconds == 10
    assert settings.schedule_cron == "0 2 * * *"
    assert settings.published_file_mode == 0o644
    assert not tmp_path.joinpath("warehouse").exists()  # reading the settings creates nothing


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("C360_MAX_QUARANTINE_SHARE", "abc", "C360_MAX_QUARANTINE_SHARE: expected a number from 0 to 1"),
        ("C360_MAX_QUARANTINE_SHARE", "1.5", "C360_MAX_QUARANTINE_SHARE: expected a number from 0 to 1"),
        ("C360_MAX_QUARANTINE_SHARE", "nan", "C360_MAX_QUARANTINE_SHARE: expected a number from 0 to 1"),
        (
            "C360_LANDING_SETTLE_SECONDS",
            "-1",
            "C360_LANDING_SETTLE_SECONDS: expected a number from 0 to 86400",
        ),
        ("C360_DBT_THREADS", "0", "C360_DBT_THREADS: expected a whole number from 1 to 64"),
        ("C360_DBT_THREADS", "two", "C360_DBT_THREADS: expected a whole number from 1 to 64"),
        ("C360_DBT_REUSE", "maybe", "C360_DBT_REUSE: expected on/off"),
        ("C360_START_DATE", "2024-13-01", "C360_START_DATE: expected a date YYYY-MM-DD"),
        ("C360_SCHEDULE_CRON", "daily", "C360_SCHEDULE_CRON: expected a cron schedule of five fields"),
        ("C360_PUBLISHED_FILE_MODE", "rw-r--r--", "C360_PUBLISHED_FILE_MODE: expected an octal file mode"),
        (
            "C360_PUBLISHED_VERSIONS_KEPT",
            "1",
            "C360_PUBLISHED_VERSIONS_KEPT: expected a whole number from 2 to 100",
        ),
    ],
)
def test_bad_settings_name_the_variable_and_the_range(tmp_path: Path, name: str, value: str, expected: str):
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"C360_HOME": str(tmp_path), name: value})
    assert expected in str(error.value)
    assert value not in str(error.value).replace(expected, "") or value in expected


def test_every_setting_is_documented_in_the_readme():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [s.env for s in SETTINGS if f"`{s.env}`" not in readme]
    assert not missing


def test_the_demo_key_only_in_a_demo_home(tmp_path: Path):
    settings = Settings.from_env({"C360_HOME": str(tmp_path)})
    with pytest.raises(SettingsError, match="C360_PII_HASH_KEY is not set"):
        settings.pii_key()
    with pytest.raises(SettingsError, match="is the built-in demo key"):
        Settings.from_env({"C360_HOME": str(tmp_path), "C360_PII_HASH_KEY": DEMO_PII_KEY}).pii_key()
    assert (
        Settings.from_env({"C360_HOME": str(tmp_path), "C360_PII_HASH_KEY": "k" * 40}).pii_key() == "k" * 40
    )
    settings.demo_marker.parent.mkdir(parents=True, exist_ok=True)
    settings.demo_marker.write_text("demo")
    assert settings.pii_key() == DEMO_PII_KEY


def test_every_var_has_a_rule_and_the_defaults_pass():
    assert set(defaults()) - {"as_of_date"} == set(rules())
    assert check_vars({}) == {}
    assert describe("churn_after_days") == "a whole number from 1 to 3650"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"churn_after_days": -1}, "var churn_after_days: expected a whole number from 1 to 3650"),
        ({"churn_after_days": "abc"}, "var churn_after_days: expected a whole number from 1 to 3650"),
        ({"churn_after_days": "1; drop table raw.orders"}, "var churn_after_days: expected a whole number"),
        ({"churn_after_days": 90.5}, "var churn_after_days: expected a whole number"),
        ({"churn_after_day": 90}, "unknown var 'churn_after_day' (did you mean churn_after_days"),
        ({"as_of_date": "2026-01-01"}, "use --as-of instead"),
        ({"tier_vip_top_share": 1.5}, "var tier_vip_top_share: expected a share (number) from 0 to 1"),
        ({"tier_vip_top_share": 0.3}, "tier shares must grow from vip to medium"),
        (
            {"reporting_currency": "usd"},
            "var reporting_currency: expected a three-letter ISO 4217 currency code",
        ),
        ({"fx_rates_to_reporting": {"EUR": 0}}, "entry 'EUR' is not"),
        ({"fx_rates_to_reporting": {"EUR": "1.1 or 1=1"}}, "entry 'EUR' is not"),
        ({"risk_level_medium_min": 70}, "the medium risk level must start below the high one"),
        ({"tier_vip_revenue_threshold": "big"}, "var tier_vip_revenue_threshold: expected a number or null"),
    ],
)
def test_bad_vars_are_refused_naming_the_var_and_range(override: dict, message: str):
    with pytest.raises(VarError) as error:
        check_vars(override)
    assert message in str(error.value)


def test_good_overrides_pass_exactly_on_the_bounds():
    assert check_vars({"churn_after_days": 1}) == {"churn_after_days": 1}
    assert check_vars({"churn_after_days": 3650}) == {"churn_after_days": 3650}
    assert check_vars({"tier_vip_revenue_threshold": None}) == {"tier_vip_revenue_threshold": None}
    assert check_vars({"tier_vip_top_share": 0.2}) == {"tier_vip_top_share": 0.2}  # equal to high: allowed


def test_command_line_assignments():
    assert parse_assignments(["a=1", "b=abc", "c={USD: 1.0}", "d=null", "e="]) == {
        "a": 1,
        "b": "abc",
        "c": {"USD": 1.0},
        "d": None,
        "e": None,
    }
    with pytest.raises(VarError, match="--var expects KEY=VALUE"):
        parse_assignments(["foo"])
