"""The dbt project's documentation site (模型文档), generated for the portal to serve.

`dbt docs generate` writes one self-contained index.html (its scripts and styles inline) that
reads manifest.json and catalog.json beside it; the catalog is read from the database, so the
site describes the tables as they are. It is generated into a scratch target and the three files
are moved into Settings.dbt_docs together, so the portal never serves a half-written site.

The scratch target starts with the project's partial-parse file (dbt checks it against the
project, the vars and the profile, and parses again whatever changed), with the vars of the
monthly transform that wrote it: in a scratch target of its own, the transform's model_docs task
parsed the whole project every month (about 3 s of its 8-9 s of CPU, beside the publication).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from exchange.core.settings import DBT_PROJECT_DIR, Settings, get_settings
from exchange.pipeline.dbt import monthly_vars, run_dbt

SITE_FILES = ("index.html", "manifest.json", "catalog.json")
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
"""What dbt keeps of a parse in its target, to parse only what changed next time."""


def build_dbt_docs(settings: Settings | None = None, as_of: str | None = None,
                   parsed: Path = DBT_PROJECT_DIR / "target") -> Path:
    """Generate the dbt docs against the exchange database into settings.dbt_docs; returns that folder.
    `as_of` is the monthly transform's (exchange.pipeline.dbt.monthly_vars), whose models the docs
    show; `parsed` the dbt target whose partial-parse file the generation starts from.

    Raises TransformFailed (T_DBT_ERROR / T_DBT_FAILED) when dbt cannot generate them."""
    settings = settings or get_settings()
    target = settings.dbt_docs
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dbt-docs-", dir=target.parent) as scratch:
        work = Path(scratch)
        if (parsed / PARTIAL_PARSE_FILE).exists():
            (work / "target").mkdir()
            shutil.copy2(parsed / PARTIAL_PARSE_FILE, work / "target" / PARTIAL_PARSE_FILE)
        # no debug log: it would land in this scratch folder (a quarter of the task's CPU at 200k loans)
        run_dbt(["docs", "generate", "--target-path", str(work / "target"), "--log-path", str(work / "logs"),
                 "--log-level-file", "none", *monthly_vars(as_of)])
        staged = work / "site"
        staged.mkdir()
        for name in SITE_FILES:
            shutil.copy2(work / "target" / name, staged / name)
        previous = work / "previous"
        if target.exists():
            target.rename(previous)
        staged.rename(target)
    return target
