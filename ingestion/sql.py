"""SQL text helpers shared by the ingestion modules (every name and path pasted into SQL goes through these)."""

import re


def lit(s: str) -> str:
    """SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


def ident(s: str) -> str:
    """SQL quoted identifier."""
    return '"' + s.replace('"', '""') + '"'


def text_sql(template: str, **exprs: str) -> str:
    """SQL concatenating the literal parts of ``template`` with the SQL expressions of its ``{name}`` fields."""
    parts = re.split(r"\{(\w+)\}", template)
    pieces = [f"coalesce({exprs[p]}, '')" if k % 2 else lit(p) for k, p in enumerate(parts) if p or k % 2]
    return "(" + " || ".join(pieces) + ")"
