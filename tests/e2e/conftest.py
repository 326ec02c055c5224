"""End-to-end fixtures: a small demo landing zone run once through the real pipeline (Dagster + dbt + GX)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import c360_env, generate, run


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """20,000 demo orders (1,000 customers) run once for the as-of date; shared by the tests of a module."""
    home = tmp_path_factory.mktemp("e2e") / "c360"
    with c360_env(home):
        generate(home, orders=20_000)
        code = run()
        assert code == 0, f"the demo run should publish (exit {code})"
        yield home
