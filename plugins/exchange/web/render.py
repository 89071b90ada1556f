"""The web wing's HTML: one Jinja environment over web/templates for the portal's pages and the
data-subject report (which the API serves and `exchange report --html` writes to a file), with the
filters of exchange.web.labels (codes in the page's language, percentages, numbers, Beijing times).

The report's data is built in exchange.access.report; turning it into a page is the web's
business, so the access floor never needs the web's templates.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from exchange.web import labels

templates = Environment(loader=PackageLoader("exchange.web", "templates"), autoescape=select_autoescape(["html"]))
labels.install(templates)


def report_html(data: dict[str, Any]) -> str:
    """The data-subject report (access.report.build) as a self-contained page."""
    return templates.get_template("report.html").render(r=data)
