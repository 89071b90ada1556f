"""The portal's dashboards and documentation links on marts that dbt built from the crafted
scenario (tests/dbt_scenario.py: lenders XD01, WD02, DB03, months 2025-01 .. 2025-08).

Headless Chromium (Debian's package, driven by Playwright) opens every dashboard page as the
association and as a lender, takes a screenshot (kept in $EXCHANGE_SCREENSHOTS when set) and checks
that each chart drew data marks; a lender's pages must not hold another lender's code. The quality
gate runs once, named by a feed version, and its Data Docs are served with no remote asset.
"""

from __future__ import annotations

import json
import os
import re
import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dbt_scenario
import httpx
import psycopg
import pytest
from access_world import live_server, portal_login
from databases import fresh_database
from dbt_support import dbt, exchange_env
from test_portal import CHROMIUM

from exchange.access import tokens as access
from exchange.core.settings import environment, get_settings
from exchange.intake import lenders
from exchange.web.dashboards import PAGES

CHARTS = {"risk": ("npl", "m1"), "roll-rates": ("roll",), "vintage": ("vintage",), "multi-lender": ("multi",),
          "quality": ("rejection", "timeliness")}
CODES = [code for code, _, _ in dbt_scenario.LENDERS]
GATE_VERSION = 7
MARKS = """id => {
  const root = document.getElementById(id);
  return root.querySelectorAll('svg.main-svg path.js-line, svg.main-svg .points path, svg.main-svg .hm image,'
                               + ' svg.main-svg .bars path').length;
}"""
"""Plotly's data marks in a chart: line paths, markers, heatmap images, bars."""


@dataclass(frozen=True)
class Served:
    url: str
    base: str
    home: Path
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    work = tmp_path_factory.mktemp("dashboards")
    home = work / "home"
    home.mkdir()
    with fresh_database("dashboards") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            dbt_scenario.load_all(conn)
            tokens = {}
            for code, name, category in dbt_scenario.LENDERS:
                lenders.add(conn, code, name, category)  # the lender's database role, as the portal wants it
                tokens[code] = access.issue_token(conn, lender_code=code)[1]
            tokens["association"] = access.issue_token(conn, lender_code=None)[1]
            tokens["analyst"] = access.issue_token(conn, lender_code=None, analyst=True)[1]
        dbt(url, work, "seed")
        dbt(url, work, "run")
        with environment(**exchange_env(url, home)):
            from exchange.feed.quality_gate import run_gate
            from exchange.pipeline.docs import build_dbt_docs

            build_dbt_docs(get_settings())
            run_gate(raw_after=0, raw_through=10**6, previous_counts=None, settings=get_settings(),
                     version=GATE_VERSION)
        with live_server(url, str(home)) as base:
            yield Served(url, base, home, tokens)


def _open_pages(served: Served, who: str, shots: Path) -> dict[str, dict]:
    """Every dashboard page in headless Chromium as `who`: its HTML, marks per chart, trace names per chart."""
    from playwright.sync_api import sync_playwright

    seen = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(served.base + "/portal")
        page.fill("#token", served.tokens[who])
        page.click("#login")
        page.wait_for_selector("#who")
        for slug, charts in CHARTS.items():
            page.goto(f"{served.base}/portal/dashboards/{slug}")
            for chart in charts:
                page.wait_for_selector(f"#chart-{chart} svg.main-svg")
            page.screenshot(path=str(shots / f"{who}-{slug}.png"), full_page=True)
            seen[slug] = {
                "html": page.content(),
                "marks": {c: page.evaluate(MARKS, f"chart-{c}") for c in charts},
                "traces": {c: page.evaluate("id => document.getElementById(id).data.map(t => t.name || '')",
                                            f"chart-{c}") for c in charts},
            }
        browser.close()
    return seen


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kept = os.environ.get("EXCHANGE_SCREENSHOTS")
    path = Path(kept) if kept else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_association_dashboards_draw_every_lenders_lines_with_data_marks(served, shots):
    seen = _open_pages(served, "association", shots)
    assert set(seen) == set(PAGES)
    for slug, got in seen.items():
        for chart, marks in got["marks"].items():
            assert marks > 0, f"{slug}/{chart} drew no data marks"
        assert not re.search(r"""<script[^>]+src=["']https?://""", got["html"]), slug
    assert set(CODES) <= set(seen["risk"]["traces"]["npl"])
    assert set(CODES) <= set(seen["quality"]["traces"]["rejection"])


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)")
def test_a_lender_sees_its_own_lines_and_no_other_lender(served, shots, monkeypatch):
    monkeypatch.setenv("EXCHANGE_DASHBOARD_MIN_LENDERS", "3")  # the scenario's three lenders: draw the band
    seen = _open_pages(served, "XD01", shots)
    for slug, got in seen.items():
        for chart, marks in got["marks"].items():
            assert marks > 0, f"{slug}/{chart} drew no data marks"
        for other in ("WD02", "DB03"):
            assert other not in got["html"], f"{other} appears on XD01's {slug} page"
    lines = [name for name in seen["risk"]["traces"]["npl"] if name in CODES]
    assert lines == ["XD01"]
    assert "XD01" in seen["quality"]["html"]


def _npl_traces(served: Served, who: str) -> dict[str, list]:
    client, _ = portal_login(served.base, served.tokens[who])
    html = client.get("/portal/dashboards/risk", params={"month": "2025-08"}).text
    figure = re.search(r'data-target="chart-npl">(.*?)</script>', html, re.S).group(1)
    return {t["name"]: t["y"] for t in json.loads(figure)["data"]}


def test_industry_quartiles_are_over_every_lenders_ratio(served, monkeypatch):
    """The median on a lender's NPL chart is the median of all three lenders' NPL ratios that month."""
    monkeypatch.setenv("EXCHANGE_DASHBOARD_MIN_LENDERS", "3")
    with psycopg.connect(served.url) as conn:
        ratios = [r for (r,) in conn.execute(
            "select sum(npl_balance)::float8 / nullif(sum(outstanding_principal), 0)::float8"
            " from marts.mart_portfolio_quality where report_month = '2025-08-01' group by lender_code")]
    assert len(ratios) == 3
    assert _npl_traces(served, "XD01")["行业中位数"][-1] == pytest.approx(statistics.median(ratios))


def test_a_lender_sees_no_quartiles_made_of_fewer_lenders_than_the_minimum(served):
    """Three lenders' quartiles would give away the other two ratios: under the default minimum of
    five, the lender's band is empty while the association's is drawn."""
    assert all(v is None for v in _npl_traces(served, "XD01")["行业中位数"])
    assert all(v is not None for v in _npl_traces(served, "association")["行业中位数"])


def test_filters_keep_only_offered_choices(served):
    client, _ = portal_login(served.base, served.tokens["association"])
    latest = client.get("/portal/dashboards/roll-rates", params={"month": "2099-01", "product": "'; drop"}).text
    assert '<option value="2025-08" selected' in latest
    earlier = client.get("/portal/dashboards/roll-rates", params={"month": "2025-03", "lang": "en"}).text
    assert "end of 2025-03" in earlier and "Roll rates" in earlier
    assert httpx.get(served.base + "/portal/dashboards/risk", follow_redirects=False).status_code == 303
    assert client.get("/portal/dashboards/nonsense").status_code == 404
    js = client.get("/portal/dashboards/plotly.min.js")
    assert js.status_code == 200 and "plotly" in js.text[:2000].lower()


def test_docs_are_served_offline_to_the_association_only(served):
    association, _ = portal_login(served.base, served.tokens["association"])
    index = association.get("/portal/docs").text
    assert f"feed-v{GATE_VERSION}" in index and "__none__" not in index
    pages = re.findall(r'href="(/portal/docs/gx/validations/[^"]+\.html)"', index)
    assert len(pages) >= 6  # three raw suites and three candidate suites
    for link in pages:
        assert f"/feed-v{GATE_VERSION}/" in link
        html = association.get(link).text
        assert "<table" in html
        assert not re.search(r"""<(script|link|img)\b[^>]*\b(src|href)\s*=\s*["']https?://""", html), link
        assert "static/images/logo-long.png" in html  # GX's logo from the wheel's copy, not its bucket
    dbt_index = association.get("/portal/docs/dbt/index.html")
    assert dbt_index.status_code == 200 and "manifest.json" in dbt_index.text
    assert not re.search(r"""<(script|link)[^>]+(src|href)\s*=\s*["']https?://""", dbt_index.text)
    catalog = association.get("/portal/docs/dbt/catalog.json").json()
    assert "model.exchange.mart_portfolio_quality" in catalog["nodes"]
    assert association.get("/portal/docs/gx/..%2F..%2F..%2Fpseudonym.key").status_code == 404
    lender, _ = portal_login(served.base, served.tokens["XD01"])
    for path in ("/portal/docs", "/portal/docs/dbt/index.html", "/" + pages[0].lstrip("/")):
        assert lender.get(path).status_code == 404


def test_an_analyst_token_opens_the_dashboards_and_docs_and_nothing_else(served):
    analyst, csrf = portal_login(served.base, served.tokens["analyst"])
    assert analyst.get("/portal", follow_redirects=False).headers["location"] == "/portal/dashboards"
    risk = analyst.get("/portal/dashboards/risk").text
    assert all(code in risk for code in ("XD01", "WD02", "DB03"))  # every lender's line, as the marts hold them
    assert analyst.get("/portal/docs").status_code == 200
    assert analyst.get("/portal/docs/dbt/index.html").status_code == 200
    for tab in ("alerts", "held", "disputes", "versions", "lenders", "tokens", "quality"):
        assert analyst.get(f"/portal/{tab}").status_code == 404, tab
    assert analyst.post("/portal/lenders/XD01/status", data={"csrf": csrf, "status": "suspended",
                                                             "reason": "an analyst may not"}).status_code == 403
    refused = analyst.post("/portal/upload", data={"csrf": csrf}, follow_redirects=False,
                           files={"file": ("XD01_loans_20250131.csv", b"loan_id\n1\n", "text/csv")})
    assert refused.status_code == 303
    api = httpx.post(served.base + "/v1/lookup", json={}, headers={"Authorization": f"Bearer {served.tokens['analyst']}"})
    assert api.status_code == 403 and api.json()["error"]["code"] == "Q_FORBIDDEN"


def test_the_docs_site_starts_from_the_transforms_parse(served, tmp_path, capfd, monkeypatch):
    """model_docs runs after every monthly transform: from a scratch target of its own it parsed the
    whole project each time. It starts from the partial-parse file the transform's tasks left, with
    their vars, and dbt parses nothing again; the site is still complete. dbt writes no debug log
    (into the scratch folder, deleted after)."""
    import logging.handlers

    from exchange.pipeline.dbt import monthly_vars, run_dbt
    from exchange.pipeline.docs import build_dbt_docs

    log_files: list[str] = []
    opened = logging.handlers.RotatingFileHandler.__init__

    def recorded(handler, filename, *args, **kwargs):
        log_files.append(str(filename))
        opened(handler, filename, *args, **kwargs)

    monkeypatch.setattr(logging.handlers.RotatingFileHandler, "__init__", recorded)

    parsed = tmp_path / "target"
    with environment(**exchange_env(served.url, served.home)):
        run_dbt(["parse", "--no-write-json", "--target-path", str(parsed), "--log-path", str(tmp_path),
                 *monthly_vars(None)])  # as the transform's rule seeds leave the project's target
        capfd.readouterr()
        site = build_dbt_docs(get_settings(), as_of=None, parsed=parsed)
    dbt_said = capfd.readouterr().out
    assert [f for f in log_files if f.endswith("dbt.log")] == [str(tmp_path / "dbt.log")]  # the parse's, above
    assert "Unable to do partial parsing" not in dbt_said
    assert "Catalog written" in dbt_said
    catalog = json.loads((site / "catalog.json").read_text())
    assert "model.exchange.mart_portfolio_quality" in catalog["nodes"]
