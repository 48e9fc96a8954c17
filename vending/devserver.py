"""``make run``: the embedded developer server.

1. Create ``instance/secrets.env`` once (mode 0600) with a random ``SECRET_KEY`` and master
   key, unless both secrets are already set in the environment. Nothing else ever writes a
   secret: production takes them from its environment (``.env.example``).
2. Migrate the database (``alembic upgrade head``): ``DATABASE_URL`` or the embedded SQLite
   ``instance/stsvend.db``.
3. Seed the demo data when the database is empty, and print the demo credentials (once).
4. Print where to log in, then replace this process with gunicorn on 127.0.0.1:``$PORT``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def ensure_instance_secrets(instance_dir: Path) -> Path:
    """Write the instance secret file if it does not exist (never overwrite it)."""
    from vending.security_module import MasterKeyring

    instance_dir.mkdir(parents=True, exist_ok=True)
    path = instance_dir / "secrets.env"
    if path.exists():
        return path
    import secrets

    content = (
        "# Generated once by `make run` for this local instance. Keep it private (0600).\n"
        f"SECRET_KEY={secrets.token_hex(32)}\n"
        f"STSVEND_MASTER_KEYS={MasterKeyring.generate_entry('local1')}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(content)
    return path


def migrate(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig(str(REPO / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", database_url)
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")


def seed_if_empty() -> str | None:
    """Seed the demo data into an empty database; the description, or None if not empty."""
    from vending import create_app
    from vending.database import db
    from vending.seed import database_is_empty, seed_demo
    from vending.services import ServiceContext

    app = create_app()
    with app.app_context():
        ctx = ServiceContext.from_app(app, db.session)
        if not database_is_empty(ctx):
            return None
        return seed_demo(ctx).describe()


def main() -> None:
    instance_dir = Path(os.environ.get("STSVEND_INSTANCE_DIR", REPO / "instance"))
    os.environ["STSVEND_INSTANCE_DIR"] = str(instance_dir)
    if not (os.environ.get("SECRET_KEY") and os.environ.get("STSVEND_MASTER_KEYS")):
        ensure_instance_secrets(instance_dir)
    from config import DEFAULT_DATABASE_URL, Config

    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    Config.validate()
    migrate(database_url)
    seeded = seed_if_empty()
    port = os.environ.get("PORT", "8000")
    out = sys.stdout
    if seeded:
        out.write("stsvend: demo data seeded (the passwords are shown only now):\n")
        out.write("".join(f"  {line}\n" for line in seeded.splitlines()))
    out.write(f"stsvend: database {database_url.split('@')[-1]}\n")
    out.write(f"stsvend: open http://127.0.0.1:{port}/ and log in with the demo users above "
              "(or create one: flask --app wsgi create-user NAME --role admin "
              "--password-stdin)\n")
    out.flush()
    os.chdir(REPO)
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "-c",
                              str(REPO / "gunicorn.conf.py"), "wsgi:app"])


if __name__ == "__main__":
    main()
