"""The association's documentation links (模型与校验文档): the dbt docs site and the quality gate's
Data Docs, served from the exchange's state directory with nothing fetched from outside.

The dbt docs are written by `exchange docs build` (exchange.pipeline.docs); the Data Docs by each
gate run, named by feed version. Lenders get 404 here: the model documentation describes every
lender's tables, and the validation pages hold other lenders' values.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from exchange.core.clock import EXCHANGE_TZ
from exchange.feed.data_docs import strip_remote_assets, to_root, validation_pages
from exchange.feed.quality_gate import data_docs_site
from exchange.web import portal
from exchange.web.auth import PortalSession

router = APIRouter(prefix="/portal/docs", include_in_schema=False)


def _inside(base: Path, relative: str) -> Path | None:
    """base/relative when it is a file under base (no escape through '..' or links), else None."""
    root = base.resolve()
    path = (root / relative).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


@router.get("")
async def docs_index(request: Request, session: PortalSession) -> Response:
    if session is None:
        return RedirectResponse("/portal", status_code=303)
    who, csrf = session
    if not (who.is_association or who.is_analyst):
        return Response(status_code=404)
    settings = portal._state(request).settings
    dbt_index = settings.dbt_docs / "index.html"
    built = dt.datetime.fromtimestamp(dbt_index.stat().st_mtime, EXCHANGE_TZ) if dbt_index.is_file() else None
    return portal._render(request, "docs.html", who=who, csrf=csrf, dbt_built=built,
                          validations=validation_pages(data_docs_site(settings)))


@router.get("/dbt/{name}")
async def dbt_docs(request: Request, session: PortalSession, name: str) -> Response:
    """A file of the dbt docs site (index.html and the JSON it reads beside it)."""
    if session is None or not (session[0].is_association or session[0].is_analyst):
        return Response(status_code=404)
    path = _inside(portal._state(request).settings.dbt_docs, name)
    return Response(status_code=404) if path is None else FileResponse(path)


@router.get("/gx/{relative:path}")
async def data_docs(request: Request, session: PortalSession, relative: str) -> Response:
    """A file of the Data Docs site; pages are served without their remote assets (also those
    written before the gate made its pages offline)."""
    if session is None or not (session[0].is_association or session[0].is_analyst):
        return Response(status_code=404)
    path = _inside(data_docs_site(portal._state(request).settings), relative)
    if path is None:
        return Response(status_code=404)
    if path.suffix == ".html":
        return HTMLResponse(strip_remote_assets(path.read_text(encoding="utf-8"), to_root(relative)))
    return FileResponse(path)
