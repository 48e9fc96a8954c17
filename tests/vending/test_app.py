"""The application factory, configuration, health routes and the JSON error shape."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from vending_fixtures import REPO, alembic_config, make_config

from vending import create_app


def test_health_and_readiness(app: Any) -> None:
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["database"] == "ok"
    assert ready.get_json()["schema"] == ScriptDirectory.from_config(
        alembic_config("sqlite://")).get_current_head()


def test_readiness_fails_when_the_database_is_not_migrated(tmp_path: Path,
                                                           master_keys: str) -> None:
    empty = create_app(make_config(f"sqlite:///{tmp_path / 'empty.db'}", master_keys))
    response = empty.test_client().get("/readyz")
    assert response.status_code == 503 and response.get_json()["status"] == "unavailable"
    gone = create_app(make_config("postgresql+psycopg://nobody@127.0.0.1:1/none", master_keys))
    assert gone.test_client().get("/readyz").status_code == 503
    assert gone.test_client().get("/healthz").status_code == 200


def test_errors_have_one_json_shape(app: Any) -> None:
    response = app.test_client().get("/no/such/page")
    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": "not_found",
                                             "message": response.get_json()["error"]["message"]}}


@pytest.mark.parametrize("missing", ["SECRET_KEY", "STSVEND_MASTER_KEYS"])
def test_missing_secrets_fail_fast(missing: str, master_keys: str) -> None:
    from config import ConfigError

    with pytest.raises(ConfigError, match=missing):
        create_app(make_config("sqlite://", master_keys, **{missing: None}))
    with pytest.raises(ConfigError, match="STSVEND_MIN_VEND_AMOUNT"):
        create_app(make_config("sqlite://", master_keys, STSVEND_MIN_VEND_AMOUNT=Decimal(0)))


def test_config_module_fails_fast_in_a_clean_environment(tmp_path: Path) -> None:
    """Importing wsgi without secrets (and no instance secret file) exits with a clear error."""
    env = {"PATH": "/usr/bin:/bin", "STSVEND_INSTANCE_DIR": str(tmp_path),
           "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode != 0
    assert "missing required setting(s): SECRET_KEY, STSVEND_MASTER_KEYS" in result.stderr


def test_instance_secret_file_is_the_embedded_default(tmp_path: Path) -> None:
    (tmp_path / "secrets.env").write_text("SECRET_KEY=abc\nSTSVEND_MASTER_KEYS=k1:"
                                          + "A" * 43 + "=\n")
    env = {"PATH": "/usr/bin:/bin", "STSVEND_INSTANCE_DIR": str(tmp_path),
           "PYTHONPATH": str(REPO)}
    code = "import config; print(config.Config.SECRET_KEY, config.DEFAULT_DATABASE_URL)"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split() == ["abc", f"sqlite:///{tmp_path / 'stsvend.db'}"]
