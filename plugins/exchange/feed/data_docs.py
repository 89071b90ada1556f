"""The quality gate's Data Docs, made to work with no way out to the internet.

GX 1.24 writes each validation as a server-rendered HTML page and copies its own static files
(styles, fonts, images: great_expectations/render/view/static in the wheel) into the site's
static/ folder, but its page templates also load Bootstrap, jQuery, bootstrap-table, Font
Awesome and Vega from CDNs. Offline those requests hang until they time out, and the index page,
whose table bootstrap-table builds in JavaScript, stays blank. No wheel ships those libraries, so
the remote tags are removed (the validation pages keep GX's own inline styles and read as plain
HTML tables), the logo GX loads from its web-asset bucket (with the data context's id in the
query) points at the copy in the site's static/images, and the portal lists the validation pages
itself (`validation_pages`) in place of GX's index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REMOTE_ASSET = re.compile(
    r"""<link\b[^>]*\bhref\s*=\s*["']https?://[^>]*>"""
    r"""|<script\b[^>]*\bsrc\s*=\s*["']https?://[^>]*>\s*</script>""",
    re.IGNORECASE)
"""A stylesheet or script tag that fetches from another host."""
REMOTE_IMAGE = re.compile(r"""(<img\b[^>]*\bsrc\s*=\s*["'])https?://[^"'?]*/([\w.-]+)(?:\?[^"']*)?(["'])""",
                          re.IGNORECASE)
"""An image from another host: group 2 is its file name (GX's logo: logo-long.png)."""
LOCAL_IMAGES = ("logo-long.png", "short-logo.png", "favicon.ico")
"""Images GX loads from its bucket that its wheel also ships (render/view/static/images)."""


def strip_remote_assets(html: str, to_root: str = "") -> str:
    """The page without remote stylesheets and scripts, its images pointed at the site's static
    copies (`to_root`: the relative way from the page to the site's root, e.g. "../../")."""
    html = REMOTE_ASSET.sub("", html)
    return REMOTE_IMAGE.sub(lambda m: f"{m[1]}{to_root}static/images/{m[2]}{m[3]}" if m[2] in LOCAL_IMAGES
                            else f"{m[1]}{m[3]}", html)


def to_root(relative: str) -> str:
    """The relative way from a page (its path relative to the site) back to the site's root."""
    return "../" * (len(Path(relative).parts) - 1)


def make_offline(site: Path) -> int:
    """Remove remote assets from every page of the site; returns how many pages changed.
    Re-running changes nothing."""
    changed = 0
    for page in site.rglob("*.html") if site.is_dir() else ():
        html = page.read_text(encoding="utf-8")
        offline = strip_remote_assets(html, to_root(page.relative_to(site).as_posix()))
        if offline != html:
            page.write_text(offline, encoding="utf-8")
            changed += 1
    return changed


@dataclass(frozen=True)
class ValidationPage:
    suite: str
    run_name: str
    """The feed version as `feed-v<n>` (quality_gate.run_name), or GX's `__none__` for older runs."""
    run_time: str
    path: str
    """Relative to the site."""


def validation_pages(site: Path, limit: int = 500) -> list[ValidationPage]:
    """The site's validation pages, newest run first (validations/<suite>/<run name>/<run time>/<batch>.html)."""
    base = site / "validations"
    pages = []
    for page in base.glob("*/*/*/*.html") if base.is_dir() else ():
        suite, name, when = page.relative_to(base).parts[:3]
        pages.append(ValidationPage(suite, name, when, page.relative_to(site).as_posix()))
    pages.sort(key=lambda p: (p.run_time, p.suite), reverse=True)
    return pages[:limit]
