"""Visual run report: a self-contained, offline HTML page with inline SVG charts, built from the published database."""

from reporting.report import render_report

__all__ = ["render_report"]
