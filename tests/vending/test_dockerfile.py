"""Static guards on the container recipe (no Docker daemon is needed to run them): the
properties the issue asks for, so a later edit cannot quietly drop one."""

from __future__ import annotations

import re

from vending_fixtures import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text(encoding="utf-8")
DOCKERIGNORE = (REPO / ".dockerignore").read_text(encoding="utf-8").split()


def test_multi_stage_on_a_pinned_slim_base() -> None:
    assert re.search(r"^ARG PYTHON_IMAGE=python:\d+\.\d+\.\d+-slim-\w+$", DOCKERFILE, re.M)
    assert len(re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS \w+$", DOCKERFILE, re.M)) == 2
    assert "COPY --from=build /opt/venv /opt/venv" in DOCKERFILE


def test_runs_as_a_non_root_numeric_user() -> None:
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.M)
    assert users and users[-1] == "10001:10001"


def test_migrates_then_execs_gunicorn_with_health_checks() -> None:
    cmd = re.findall(r"^CMD (.+)$", DOCKERFILE, re.M)[-1]
    assert cmd.index("alembic upgrade head") < cmd.index("exec gunicorn -c gunicorn.conf.py")
    health = re.search(r"^HEALTHCHECK .*\n\s+CMD (.+)$", DOCKERFILE, re.M)
    assert health and "/healthz" in health.group(1) and "/readyz" in health.group(1)


def test_secrets_and_local_state_stay_out_of_the_build_context() -> None:
    for entry in (".env", "instance", ".git", ".venv"):
        assert entry in DOCKERIGNORE
    assert not re.search(r"^(ENV|ARG) (SECRET_KEY|STSVEND_MASTER_KEYS)", DOCKERFILE, re.M)
