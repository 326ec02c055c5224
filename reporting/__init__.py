"""Visual run report: a self-contained, offline HTML page with inline SVG charts, built from the published database.

``data`` reads the published tables, ``svg`` is the drawing toolkit, ``charts`` holds one pure function per chart
and ``page`` assembles and writes the page.
"""

from reporting.page import render_report

__all__ = ["render_report"]
