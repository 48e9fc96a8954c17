"""A small signed-in test client for the POS: reads the CSRF token from the page it got,
as a browser would, and posts it back."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from pos_fixtures import PASSWORDS

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no CSRF field"
    return match.group(1)


class Pos:
    """``pos.get(path)`` / ``pos.post(path, data)`` with the session's CSRF token."""

    def __init__(self, app: Flask) -> None:
        self.client: FlaskClient = app.test_client()
        self.token = ""

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.client.get(path, **kwargs)
        text = response.get_data(as_text=True)
        if 'name="csrf_token"' in text:
            self.token = csrf_from(text)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True,
             **kwargs: Any) -> Any:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.token)
        response = self.client.post(path, data=form, **kwargs)
        text = response.get_data(as_text=True)
        if 'name="csrf_token"' in text:
            self.token = csrf_from(text)
        return response

    def login(self, username: str, password: str | None = None) -> Any:
        self.get("/login")
        return self.post("/login", {"username": username,
                                    "password": PASSWORDS[username] if password is None
                                    else password})

    def text(self, path: str) -> str:
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_data(as_text=True)


def signed_in(app: Flask, username: str) -> Pos:
    pos = Pos(app)
    response = pos.login(username)
    assert response.status_code == 302, response.get_data(as_text=True)
    pos.get("/sell")
    return pos
