"""WSGI entry point: only builds the app (``gunicorn -c gunicorn.conf.py wsgi:app``,
``flask --app wsgi COMMAND``)."""

from vending import create_app

app = create_app()
