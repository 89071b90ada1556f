"""The dashboards' charts as Plotly figure specifications (plain dicts, drawn in the browser).

The browser draws them with plotly.js as the plotly wheel ships it (`plotly_js_path`), served by
the portal itself: no CDN, so the dashboards work on a network with no way out. The Python side
only builds JSON (data + layout); the plotly Python API is not imported.

Texts are passed in as `t(zh, en)`, the portal's language switch; codes shown on a chart (DPD
buckets, timeliness, borrower types) become words through the portal's one table (web.labels).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exchange.web.labels import LABELS

T = Callable[[str, str], str]
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
BAND = "rgba(120, 120, 120, 0.18)"
OWN = "#1f4e9c"
TIMELINESS = {"on_time": "#2ca02c", "late": "#ff9f1c", "partial": "#9467bd", "not_yet_due": "#c7c7c7",
              "missing": "#d62728"}
"""mart_lender_submission_quality.status_timeliness, each with its flat colour in the grid."""


def plotly_js_path() -> Path:
    """plotly.min.js inside the installed plotly package (found without importing plotly)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise RuntimeError("the plotly package is not installed (pinned in pyproject.toml)")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"


def code_label(code: str, t: T) -> str:
    """A code as words on the page's language (web.labels.LABELS); a code with no entry as it is."""
    texts = LABELS.get(code)
    return t(*texts) if texts else code


def _layout(title: str, y_title: str, *, percent: bool = True, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "font": {"size": 16}}, "height": 400, "margin": {"l": 70, "r": 20, "t": 50, "b": 60},
        "yaxis": {"title": {"text": y_title}, "rangemode": "tozero", "tickformat": ".1%" if percent else ",d"},
        "legend": {"orientation": "h", "y": -0.25, "traceorder": "normal"}, "hovermode": "x unified",
        "font": {"family": "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif"},
    }
    layout.update(extra)
    return layout


def band_trend(data: dict[str, Any], title: str, y_title: str, t: T, *, own: bool) -> dict[str, Any]:
    """Each lender's ratio by month against the industry's median and its p25-p75 band.

    `own`: the scope is one lender (its line drawn strong, named as the lender's own)."""
    x = data["months"]
    traces: list[dict[str, Any]] = [
        {"type": "scatter", "x": x, "y": data["p25"], "mode": "lines", "line": {"width": 0}, "showlegend": False,
         "name": t("行业25分位", "industry p25"), "hovertemplate": "%{y:.2%}"},
        {"type": "scatter", "x": x, "y": data["p75"], "mode": "lines", "line": {"width": 0}, "fill": "tonexty",
         "fillcolor": BAND, "name": t("行业25-75分位区间", "industry p25-p75"), "hovertemplate": "%{y:.2%}"},
        {"type": "scatter", "x": x, "y": data["p50"], "mode": "lines", "line": {"color": "#555", "dash": "dash"},
         "name": t("行业中位数", "industry median"), "hovertemplate": "%{y:.2%}"},
    ]
    for i, (code, values) in enumerate(sorted(data["lenders"].items())):
        color = OWN if own else PALETTE[i % len(PALETTE)]
        traces.append({"type": "scatter", "x": x, "y": values, "mode": "lines+markers", "name": code,
                       "line": {"color": color, "width": 3 if own else 2}, "hovertemplate": "%{y:.2%}"})
    return {"data": traces, "layout": _layout(title, y_title, xaxis={"type": "category"})}


def roll_heatmap(m: dict[str, Any], title: str, t: T) -> dict[str, Any]:
    """From-bucket (rows) by to-bucket (columns), balance roll rate as colour and text."""
    text = [["" if v is None else f"{v:.0%}" for v in row] for row in m["z"]]
    trace = {"type": "heatmap", "z": m["z"], "x": [code_label(b, t) for b in m["to"]],
             "y": [code_label(b, t) for b in m["from"]], "text": text, "texttemplate": "%{text}",
             "customdata": m["loans"], "colorscale": "Blues", "reversescale": True, "zmin": 0, "zmax": 1,
             "hovertemplate": t("%{y} → %{x}: %{z:.1%}（%{customdata} 笔）<extra></extra>",
                                "%{y} → %{x}: %{z:.1%} (%{customdata} loans)<extra></extra>"),
             "colorbar": {"tickformat": ".0%"}}
    layout = _layout(title, t("上月末逾期档", "bucket at the previous month end"), percent=False, height=420,
                     hovermode="closest", xaxis={"title": {"text": t("本月末状态", "at this month end")}, "type": "category"})
    layout["yaxis"] = {"title": {"text": t("上月末逾期档", "bucket at the previous month end")}, "autorange": "reversed",
                       "type": "category"}
    return {"data": [trace], "layout": layout}


def vintage_lines(v: dict[str, Any], title: str, t: T) -> dict[str, Any]:
    """One curve per disbursement cohort: share ever at DPD 91+ by month on book."""
    traces = [{"type": "scatter", "x": c["mob"], "y": c["share"], "mode": "lines+markers", "name": cohort,
               "line": {"color": PALETTE[i % len(PALETTE)]}, "hovertemplate": "%{y:.2%}"}
              for i, (cohort, c) in enumerate(sorted(v["cohorts"].items()))]
    return {"data": traces, "layout": _layout(title, t("累计90天以上逾期占比", "share ever DPD 91+"), hovermode="closest",
                                             legend={"title": {"text": t("放款月", "cohort")}},
                                             xaxis={"title": {"text": t("账龄（月）", "months on book")}, "dtick": 1,
                                                    "rangemode": "tozero"})}


def multi_lender_bars(d: dict[str, Any], title: str, t: T) -> dict[str, Any]:
    """Share of borrowers by number of lenders, one bar series per borrower type, counts on the bars."""
    traces = [{"type": "bar", "x": [str(n) for n in s["lenders"]], "y": s["share"], "name": code_label(kind, t),
               "text": [f"{n:,}" for n in s["borrowers"]], "textposition": "outside",
               "customdata": [[n, bad] for n, bad in zip(s["borrowers"], s["in_default"], strict=True)],
               "marker": {"color": PALETTE[i % len(PALETTE)]},
               "hovertemplate": t("%{customdata[0]:,} 人（%{y:.1%}），其中违约 %{customdata[1]:,}",
                                  "%{customdata[0]:,} borrowers (%{y:.1%}), %{customdata[1]:,} in default")}
              for i, (kind, s) in enumerate(sorted(d["types"].items()))]
    return {"data": traces, "layout": _layout(title, t("占该类借款人比例", "share of the type's borrowers"),
                                             barmode="group", hovermode="closest",
                                             xaxis={"title": {"text": t("有在贷余额的机构数", "lenders with an active loan")},
                                                    "type": "category"})}


def timeliness_grid(g: dict[str, Any], title: str, t: T) -> dict[str, Any]:
    """Lender (rows) by month (columns): on time, late (days late as text), partial, not yet due or missing."""
    order = list(TIMELINESS)
    z = [[None if s is None else order.index(s) for s in row] for row in g["status"]]
    text = [["" if s is None else (f"{d}" if s == "late" and d is not None else code_label(s, t))
             for s, d in zip(row, late, strict=True)] for row, late in zip(g["status"], g["days_late"], strict=True)]
    n = len(order)  # one flat colour per status over its share of the scale
    scale = [[edge / n, color] for k, color in enumerate(TIMELINESS.values()) for edge in (k, k + 1)]
    trace = {"type": "heatmap", "z": z, "x": g["months"], "y": g["lenders"], "text": text, "texttemplate": "%{text}",
             "zmin": -0.5, "zmax": n - 0.5, "colorscale": scale, "xgap": 2, "ygap": 2,
             "colorbar": {"tickvals": list(range(n)), "ticktext": [code_label(s, t) for s in order]},
             "hovertemplate": "%{y} %{x}: %{text}<extra></extra>"}
    layout = _layout(title, t("机构", "lender"), percent=False, hovermode="closest",
                     height=max(220, 90 + 32 * len(g["lenders"])), xaxis={"type": "category"})
    layout["yaxis"] = {"type": "category", "autorange": "reversed"}
    return {"data": [trace], "layout": layout}
