"""The dbt project's documentation site (模型文档), generated for the portal to serve.

`dbt docs generate` writes one self-contained index.html (its scripts and styles inline) that
reads manifest.json and catalog.json beside it; the catalog is read from the database, so the
site describes the tables as they are. It is generated into a scratch target and the three files
are moved into Settings.dbt_docs together, so the portal never serves a half-written site.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from exchange.core.settings import Settings, get_settings
from exchange.pipeline.dbt import run_dbt

SITE_FILES = ("index.html", "manifest.json", "catalog.json")


def build_dbt_docs(settings: Settings | None = None) -> Path:
    """Generate the dbt docs against the exchange database into settings.dbt_docs; returns that folder.

    Raises TransformFailed (T_DBT_ERROR / T_DBT_FAILED) when dbt cannot generate them."""
    settings = settings or get_settings()
    target = settings.dbt_docs
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dbt-docs-", dir=target.parent) as scratch:
        work = Path(scratch)
        run_dbt(["docs", "generate", "--target-path", str(work / "target"), "--log-path", str(work / "logs")])
        staged = work / "site"
        staged.mkdir()
        for name in SITE_FILES:
            shutil.copy2(work / "target" / name, staged / name)
        previous = work / "previous"
        if target.exists():
            target.rename(previous)
        staged.rename(target)
    return target
