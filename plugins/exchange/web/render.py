"""The web wing's HTML: one Jinja environment over web/templates for the portal's pages and the
data-subject report (which the API serves and `exchange report --html` writes to a file).

The report's data is built in exchange.access.report; turning it into a page is the web's
business, so the access floor never needs the web's templates.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

templates = Environment(loader=PackageLoader("exchange.web", "templates"), autoescape=select_autoescape(["html"]))


def report_html(data: dict[str, Any]) -> str:
    """The data-subject report (access.report.build) as a self-contained page."""
    return templates.get_template("report.html").render(r=data)
