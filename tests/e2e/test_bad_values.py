"""Valid values that used to take the pipeline hostage or vanish silently (issue 14): a large B2B amount, a currency
without an exchange rate, orders of customers unknown to the CRM."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from e2e_helpers import AS_OF, c360_env, generate, published, run

pytestmark = pytest.mark.e2e

RATES = {
    "USD": 1.0,
    "EUR": 1.08,
    "GBP": 1.27,
    "CNY": 0.138,
    "JPY": 0.0067,
    "CAD": 0.73,
    "AUD": 0.66,
    "CHF": 1.12,
}


def test_large_amounts_unknown_currencies_and_unknown_customers(
    tmp_path: Path, capsys: pytest.CaptureFixture
):
    home = tmp_path / "c360"
    generate(home, orders=3_000, seed=61)
    extra = home / "landing" / "orders" / "orders_extra.csv"
    extra.write_text(
        "order_id,customer_id,order_ts,status,currency,gross_amount\n"
        "B2B-1,C0000001,2026-06-20T10:00:00Z,completed,EUR,120000000.00\n"  # line 2: large, valid
        "X-1,C0000002,2026-06-21T10:00:00Z,completed,XYZ,100.00\n"  # line 3: no exchange rate
        "X-2,C0000002,2026-06-22T10:00:00Z,completed,XYZ,50.00\n"  # line 4
        "U-1,c0000003,2026-06-22T10:00:00Z,completed,USD,10.00\n"  # line 5: a CRM id but for the case
        "U-2,NOBODY-42,2026-06-22T10:00:00Z,completed,USD,10.00\n"  # line 6: unknown to the CRM
    )
    shutil.copystat(home / "landing" / "orders" / "orders_2026-06.csv", extra)  # delivered with the others
    capsys.readouterr()
    with c360_env(home):
        held_back = run(AS_OF)
    out = capsys.readouterr().out
    assert held_back == 1, out[-3000:]
    assert (
        "currency XYZ has no rate in var fx_rates_to_reporting: 2 order(s) in orders/orders_extra.csv" in out
    )
    assert "(first lines: 3, 4)" in out

    with c360_env(home):
        published_code = run(AS_OF, fx_rates_to_reporting={**RATES, "XYZ": 2.0})
    out = capsys.readouterr().out
    assert published_code == 0, out[-3000:]
    assert "2 order(s) of 2 customer id(s) not in the CRM in orders/orders_extra.csv" in out
    assert "(1 match a CRM id when upper/lower case is ignored)" in out
    # dbt's own output is off in runs; its warnings reach the run's log through the build's event callback
    assert "dbt: Warning in test orders_of_known_customers" in out
    con = published(home)
    revenue = con.sql("select net_revenue_365d from customer_360 where customer_id = 'C0000001'").fetchone()[
        0
    ]
    assert revenue >= 129_600_000
    not_in_crm = con.sql(
        "select sum(orders) from kpi_revenue_by_tier_monthly where value_tier = 'not_in_crm'"
    ).fetchone()[0]
    assert not_in_crm >= 2
