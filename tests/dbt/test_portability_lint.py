"""The dbt project stays portable: engine-specific SQL lives only in macros/cross_db.sql.

Models, the other macros and the generic tests are checked for the constructs that differ between DuckDB, Spark
and PostgreSQL (most of them measured silently wrong or failing on one engine), for bare division and rounding,
and for window ORDER BY terms without NULLS FIRST/LAST. Each rule names the portable replacement. The check reads
SQL outside comments and string literals, plus the SQL fragments passed to macros as Jinja strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from c360.settings import DBT_PROJECT_DIR

DISPATCH_FILE = "macros/cross_db.sql"


@dataclass(frozen=True)
class Rule:
    pattern: str
    use_instead: str


RULES: tuple[Rule, ...] = (
    Rule(r"\bnot\s+materialized\b", "c360.cte_not_materialized() (Spark rejects the hint)"),
    Rule(r"\bqualify\b", "a subquery with row_number() and a where clause (QUALIFY: Spark >= 4.2 only)"),
    Rule(r"\b(anti|semi|asof|positional)\s+join\b", "[not] exists (select 1 ...)"),
    Rule(r"\blist(_\w+)?\s*\(", "c360.sorted_array_over"),
    Rule(r"\b(array_agg|collect_list|collect_set|sort_array|array_sort)\s*\(", "c360.sorted_array_over"),
    Rule(r"\b(unnest|explode|posexplode)\s*\(|\blateral\s+view\b", "c360.unnest_join"),
    Rule(r"\b(sha256|sha2|sha1|md5|hash)\s*\(", "c360.sha256_hex, or dbt.hash for md5"),
    Rule(r"\b(median|quantile\w*|percentile\w*|approx_\w+)\s*\(", "c360.median"),
    Rule(r"\b(bool_and|bool_or|every|booland_agg|boolor_agg)\s*\(", "min/max of a case expression"),
    Rule(r"\bregexp_\w+\s*\(", "c360.regexp_replace_all ('g' flag: DuckDB/PostgreSQL; a position on Spark)"),
    Rule(r"\b(ltrim|rtrim|btrim)\s*\(", "c360.ltrim_characters (Spark swaps the arguments), or trim()"),
    Rule(r"\bround\s*\(", "c360.round_double (doubles, DuckDB's rounding) or c360.round_decimal"),
    Rule(r"\bavg\s*\(", "c360.mean (PostgreSQL's avg of integers is numeric)"),
    Rule(
        r"(?<![\w.])(date_diff|datediff|date_sub|date_add|dateadd|timestampdiff|age)\s*\(",
        "dbt.datediff / dbt.dateadd",
    ),
    Rule(r"(?<![\w.])date_trunc\s*\(", "dbt.date_trunc"),
    Rule(
        r"\b(date_part|datepart|strftime|strptime|to_char|to_date|to_timestamp|epoch\w*|make_date)\s*\(",
        "dbt.date_trunc / dbt.datediff, or a cast",
    ),
    Rule(r"\binterval\s+'", "dbt.dateadd"),
    Rule(
        r"\b(now|today|getdate|getenv|current_setting)\s*\(|\bcurrent_(date|timestamp|time)\b",
        "as_of_date() (no wall clock, no engine settings in models)",
    ),
    Rule(r"\b(try_cast|safe_cast)\s*\(", "dbt.safe_cast"),
    Rule(r"\b(ifnull|nvl|nvl2|iff|if|ifnull|zeroifnull|nullifzero)\s*\(", "coalesce / nullif / case"),
    Rule(r"(?<![\w.])concat\s*\(", "|| or dbt.concat (PostgreSQL's concat() skips nulls)"),
    Rule(r"\b(string_agg|group_concat|listagg)\s*\(", "dbt.listagg"),
    Rule(r"\b(struct_pack|columns|generate_series|range|unnest_\w+)\s*\(", "portable SQL"),
    Rule(r"\*\s*(exclude|except|replace)\s*\(", "an explicit column list"),
    Rule(r"\bilike\b|~~\*?", "lower(x) like ..."),
    Rule(r"::", "cast(x as type)"),
    Rule(r"`", "plain identifiers (no backtick quoting)"),
    Rule(
        r"/", "c360.safe_divide (PostgreSQL truncates integer / integer; Spark and PostgreSQL keep decimals)"
    ),
)

_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_SQL_COMMENT = re.compile(r"--[^\n]*")
_SQL_LITERAL = re.compile(r"'(?:[^']|'')*'")
_JINJA_STRING = re.compile(r"\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)'")
_OVER = re.compile(r"\bover\s*\(", re.IGNORECASE)
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
_NULLS = re.compile(r"\bnulls\s+(first|last)\s*$", re.IGNORECASE)
_FRAME = re.compile(r"\b(rows|range|groups)\s+between\b.*$", re.IGNORECASE | re.DOTALL)
PLACEHOLDER = "jinja_expression"


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _window_problems(sql: str) -> list[str]:
    """Window ORDER BY terms without NULLS FIRST/LAST (a term that is a whole Jinja expression is the caller's:
    checked where it is written)."""
    problems = []
    for match in _OVER.finditer(sql):
        depth, i = 1, match.end()
        while i < len(sql) and depth:
            depth += {"(": 1, ")": -1}.get(sql[i], 0)
            i += 1
        clause = sql[match.end() : i - 1]
        order = _ORDER_BY.search(clause)
        if not order:
            continue
        terms = _FRAME.sub("", clause[order.end() :])
        for term in _split_top_level(terms):
            term = term.strip()
            if term and term != PLACEHOLDER and not _NULLS.search(term):
                problems.append(f"window ORDER BY term without NULLS FIRST/LAST: {' '.join(term.split())}")
    return problems


def sql_parts(text: str) -> tuple[str, list[str]]:
    """(the SQL outside Jinja with literals removed and Jinja replaced by a placeholder, the SQL fragments passed
    as Jinja strings with their literals removed). Comments are dropped first."""
    text = _SQL_COMMENT.sub("", _JINJA_COMMENT.sub("", text))
    fragments = []
    for tag in _JINJA.findall(text):
        for double, single in _JINJA_STRING.findall(tag):
            fragments.append(_SQL_LITERAL.sub("''", double or single))
    outside = _JINJA.sub(PLACEHOLDER, text)
    return _SQL_LITERAL.sub("''", outside), fragments


def lint_sql(text: str) -> list[str]:
    """Portability problems of one SQL/Jinja file's text (empty when portable)."""
    outside, fragments = sql_parts(text)
    problems = []
    for piece in [outside, *fragments]:
        for rule in RULES:
            for match in re.finditer(rule.pattern, piece, re.IGNORECASE):
                problems.append(f"{match.group(0).strip()!r}: use {rule.use_instead}")
        problems.extend(_window_problems(piece))
    return problems


def checked_files(project: Path = DBT_PROJECT_DIR) -> list[Path]:
    files = [
        *project.glob("models/**/*.sql"),
        *project.glob("macros/**/*.sql"),
        *project.glob("tests/**/*.sql"),
    ]
    return sorted(f for f in files if f.relative_to(project).as_posix() != DISPATCH_FILE)


def test_the_project_has_no_engine_specific_sql_outside_the_dispatch_macros() -> None:
    files = checked_files()
    assert len(files) > 30  # models, macros and generic tests were found
    problems = {
        f.relative_to(DBT_PROJECT_DIR).as_posix(): found for f in files if (found := lint_sql(f.read_text()))
    }
    assert problems == {}


def test_the_dispatch_file_is_where_the_engine_specific_sql_is() -> None:
    """The exemption is not empty talk: the dispatch file itself breaks the rules, once per engine."""
    text = (DBT_PROJECT_DIR / DISPATCH_FILE).read_text()
    assert lint_sql(text)
    for name in re.findall(r"\{%-?\s*macro\s+(\w+)\s*\(", text):
        if name.startswith(("default__", "spark__", "postgres__")):
            continue
        body = text.split(f"macro {name}(", 1)[1]
        assert "adapter.dispatch" in body.split("endmacro", 1)[0] or name in {
            "safe_divide",
            "mean",
            "round_decimal",
            "round_half_away_formula",
        }, f"{name} should dispatch per engine"


PLANTED = {
    "qualify": "select * from t qualify row_number() over (partition by k order by v nulls last) = 1",
    "regexp 'g' flag": "select regexp_replace(phone, '[^0-9]', '', 'g') from t",
    "ltrim argument order": "select ltrim(x, '0') from t",
    "integer division": "select a / b from t",
    "round of a double": "select round(score, 2) from t",
    "median": "select median(gap) from t",
    "not materialized CTE": "with c as not materialized (select 1) select * from c",
    "list": "select list(x) over (partition by k) from t",
    "unnest": "select * from t cross join unnest(t.ids) as u(id)",
    "sha256": "select sha256(email) from t",
    "anti join": "select * from a anti join b using (k)",
    "bool_and": "select bool_and(ok) from t",
    "postgres cast": "select x::int from t",
    "wall clock": "select current_date",
    "window without nulls order": "select lag(v) over (partition by k order by d) from t",
    "inside a macro argument": "select {{ c360.safe_divide('median(x)', 'n') }} from t",
}


@pytest.mark.parametrize("sql", PLANTED.values(), ids=PLANTED.keys())
def test_the_lint_catches_a_planted_engine_specific_construct(sql: str) -> None:
    assert lint_sql(sql)


def test_portable_sql_passes() -> None:
    sql = """
        -- a comment may say qualify, median() or a / b
        select
            {{ c360.safe_divide('a', 'b') }} as ratio,
            {{ c360.round_double('x', 2) }} as rounded,
            'orders / revenue' as label,
            row_number() over (partition by k order by d desc nulls last, e nulls first) as rank,
            lag(v) over (partition by k order by {{ dbt.date_trunc('month', 'd') }}) as previous
        from t
        where not exists (select 1 from u where u.k = t.k)
    """
    assert lint_sql(sql) == []


# dbt names a unit test's relation after the test; PostgreSQL refuses longer names.
POSTGRES_MAX_IDENTIFIER = 63


def test_unit_test_names_fit_a_postgres_relation_name() -> None:
    import yaml

    names = [
        test["name"]
        for path in sorted((DBT_PROJECT_DIR / "models").rglob("*.yml"))
        for test in (yaml.safe_load(path.read_text()) or {}).get("unit_tests", [])
    ]
    assert len(names) > 20
    assert [name for name in names if len(name) > POSTGRES_MAX_IDENTIFIER] == []
