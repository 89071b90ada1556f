"""The portal's dashboards (图表): portfolio quality, roll rates, vintages, multi-lender borrowing
and submission quality, one page each, with filters by month, product and region.

The association sees every lender's lines; a lender sees its own against the industry's
anonymous quartiles (the scope in exchange.web.dashboard_data). Charts are drawn in the browser
by the plotly.js that the pinned plotly wheel ships, served from here, so nothing is fetched from
outside. Analysts have no portal login yet: they read the marts directly (docs/analyst-guide.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from typing import Any

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from exchange.web import charts, portal
from exchange.web import dashboard_data as data
from exchange.web.auth import PortalSession
from exchange.web.charts import T

router = APIRouter(prefix="/portal/dashboards", include_in_schema=False)
PLOTLY_VERSION = version("plotly")


def _t(request: Request) -> T:
    lang = portal._lang(request)
    return lambda zh, en: en if lang == "en" else zh


def _peers_note(scope: data.Scope, t: T) -> str:
    """What a lender's band is, and when it is left out (Scope.min_peers)."""
    if scope.lender_code is None:
        return ""
    n = scope.min_peers()
    return t(f"行业分位数为各机构比率在当月的分布（不显示其他机构）；少于 {n} 家机构的月份不显示",
             f"industry quartiles: the spread of every lender's ratio in the month (no other lender is shown); "
             f"not shown in months with fewer than {n} lenders")


async def _risk(pool: asyncpg.Pool, scope: data.Scope, f: data.Filters, t: T) -> list[dict[str, Any]]:
    own = scope.lender_code is not None
    npl = await data.ratio_trend(pool, scope, f, "npl")
    m1 = await data.ratio_trend(pool, scope, f, "m1_plus")
    note = _peers_note(scope, t)
    return [
        {"id": "npl", "figure": charts.band_trend(npl, t("不良率趋势（按余额）", "NPL ratio (by balance)"),
                                                  t("不良余额 / 在贷余额", "NPL balance / outstanding"), t, own=own),
         "note": note},
        {"id": "m1", "figure": charts.band_trend(m1, t("M1+ 逾期率趋势（按余额）", "M1+ ratio (by balance)"),
                                                 t("逾期1天以上余额 / 在贷余额", "DPD 1+ balance / outstanding"), t, own=own),
         "note": note},
    ]


async def _roll_rates(pool: asyncpg.Pool, scope: data.Scope, f: data.Filters, t: T) -> list[dict[str, Any]]:
    m = await data.roll_matrix(pool, scope, f)
    month = f.month.isoformat()[:7]
    return [{"id": "roll", "figure": charts.roll_heatmap(m, t(f"迁徙率（按余额）：上月末 → {month} 月末",
                                                            f"Roll rates (by balance): previous month end → end of {month}"),
                                                         t),
             "note": t("仅含已报送本月数据的机构；产品筛选适用，地区不适用",
                       "only lenders that reported the selected month; the product filter applies, region does not")}]


async def _vintage(pool: asyncpg.Pool, scope: data.Scope, f: data.Filters, t: T) -> list[dict[str, Any]]:
    v = await data.vintage_curves(pool, scope, f)
    return [{"id": "vintage", "figure": charts.vintage_lines(v, t("账龄曲线：累计90天以上逾期占比",
                                                                  "Vintage curves: share ever DPD 91+"), t),
             "note": t(f"最近 {data.VINTAGE_COHORTS} 个放款月；机构开始报送前放款的批次早期未被观察到",
                       f"the latest {data.VINTAGE_COHORTS} disbursement months; cohorts disbursed before a lender "
                       "started reporting were not observed in their first months")}]


async def _multi_lender(pool: asyncpg.Pool, scope: data.Scope, f: data.Filters, t: T) -> list[dict[str, Any]]:
    d = await data.multi_lender(pool, f)
    return [{"id": "multi", "figure": charts.multi_lender_bars(d, t(f"多头借贷：{f.month.isoformat()[:7]} 按机构数的借款人分布",
                                                                    f"Multi-lender borrowing, {f.month.isoformat()[:7]}: "
                                                                    "borrowers by number of lenders"), t),
             "note": t("全行业汇总，不含机构代码；柱上数字为借款人数；产品与地区筛选不适用",
                       "industry totals, no lender named; numbers on the bars are borrowers; product and region "
                       "filters do not apply")}]


async def _quality(pool: asyncpg.Pool, scope: data.Scope, f: data.Filters, t: T) -> list[dict[str, Any]]:
    q = await data.submission_quality(pool, scope, f)
    own = scope.lender_code is not None
    return [
        {"id": "rejection", "figure": charts.band_trend(q["rejection"], t("报送质量：错误行率", "Submission quality: "
                                                                          "row rejection rate"),
                                                        t("被拒行 / 报送行", "rows rejected / rows received"), t, own=own),
         "note": _peers_note(scope, t)},
        {"id": "timeliness", "figure": charts.timeliness_grid(q["timeliness"], t("报送及时性（数字为迟报天数）",
                                                                                 "Timeliness (numbers: days late)"), t),
         "note": t("贷款状态文件应在月末后15天内报送", "the month's loan_status file is due within 15 days of month end")},
    ]


Builder = Callable[[asyncpg.Pool, data.Scope, data.Filters, T], Awaitable[list[dict[str, Any]]]]
PAGES: dict[str, tuple[tuple[str, str], str, Builder]] = {
    "risk": (("资产质量", "Portfolio quality"), "mart_portfolio_quality", _risk),
    "roll-rates": (("迁徙率", "Roll rates"), "mart_roll_rates", _roll_rates),
    "vintage": (("账龄分析", "Vintages"), "mart_vintage", _vintage),
    "multi-lender": (("多头借贷", "Multi-lender"), "mart_multi_lender", _multi_lender),
    "quality": (("报送质量", "Submission quality"), "mart_lender_submission_quality", _quality),
}
"""page slug -> (title, the mart it reads, its charts)."""


def _filters(request: Request, months: list[dt.date], options: dict[str, list[str]]) -> data.Filters:
    """The request's filters, each kept only when it is one of the offered choices."""
    by_label = {m.isoformat()[:7]: m for m in months}
    q = request.query_params
    product = q.get("product") if q.get("product") in options["products"] else None
    region = q.get("region") if q.get("region") in options["regions"] else None
    return data.Filters(by_label.get(q.get("month", ""), months[-1]), product, region)


@router.get("")
async def index() -> Response:
    return RedirectResponse("/portal/dashboards/risk", status_code=303)


@router.get("/plotly.min.js")
async def plotly_js() -> Response:
    """plotly.js from the installed plotly package (versioned URL: cached for a day)."""
    return FileResponse(charts.plotly_js_path(), media_type="text/javascript",
                        headers={"Cache-Control": "private, max-age=86400"})


@router.get("/{page}")
async def dashboard(request: Request, session: PortalSession, page: str) -> Response:
    if session is None:
        return RedirectResponse("/portal", status_code=303)
    if page not in PAGES:
        return Response(status_code=404)
    who, csrf = session
    pool = portal._state(request).pool
    t = _t(request)
    months = await data.shown_months(pool)
    options = await data.filter_options(pool)
    title, mart, build = PAGES[page]
    figures: list[dict[str, Any]] = []
    f = None
    if months and mart in await data.built_marts(pool):
        f = _filters(request, months, options)
        figures = await build(pool, data.Scope(who.lender_code), f, t)
    return portal._render(request, "dashboards.html", who=who, csrf=csrf, page=page, pages=PAGES, title=title,
                          figures=figures, filters=f, months=[m.isoformat()[:7] for m in months], options=options,
                          plotly_version=PLOTLY_VERSION)
