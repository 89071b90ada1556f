"""The deployment's JWT secret is at least 64 bytes, and `up` replaces an older, shorter one."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from exchange.pipeline import deploy


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A deployment home whose secrets were generated as `up` generates them."""
    monkeypatch.setenv("EXCHANGE_HOME", str(tmp_path))
    deploy.admin_password()
    return deploy.deployment_home()


def test_a_new_deployment_signs_with_a_secret_of_at_least_64_bytes(deployment: Path) -> None:
    stored = json.loads((deployment / "secrets.json").read_text())
    assert len(stored["jwt_secret"].encode()) >= deploy.JWT_SECRET_BYTES
    assert not deploy.renew_weak_jwt_secret(deployment)
    assert json.loads((deployment / "secrets.json").read_text()) == stored


def test_a_32_byte_secret_of_an_older_deployment_is_replaced_and_the_other_secrets_kept(deployment: Path) -> None:
    path = deployment / "secrets.json"
    older = {**json.loads(path.read_text()), "jwt_secret": secrets.token_urlsafe(32)}
    path.write_text(json.dumps(older))

    assert deploy.renew_weak_jwt_secret(deployment)

    renewed = json.loads(path.read_text())
    assert len(renewed["jwt_secret"].encode()) >= deploy.JWT_SECRET_BYTES
    assert {k: v for k, v in renewed.items() if k != "jwt_secret"} == {k: v for k, v in older.items() if k != "jwt_secret"}
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert not deploy.renew_weak_jwt_secret(deployment)  # once strong, left alone
