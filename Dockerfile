# syntax=docker/dockerfile:1
# stsvend vending server image (nickjj/docker-flask-example style): a build stage that installs
# the project into a virtualenv, and a slim run stage with a non-root numeric user. The
# container migrates the database first, then execs gunicorn (migrations never run inside
# create_app). Production sets DATABASE_URL (PostgreSQL) and the secrets of .env.example.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md config.py wsgi.py ./
COPY tokens/ tokens/
COPY vending/ vending/
RUN pip install --upgrade pip setuptools wheel && pip install .

FROM ${PYTHON_IMAGE} AS app
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    GUNICORN_BIND=0.0.0.0:8000 \
    STSVEND_INSTANCE_DIR=/app/instance
RUN groupadd --system --gid 10001 stsvend \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin stsvend
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY alembic.ini gunicorn.conf.py ./
COPY migrations/ migrations/
RUN mkdir -p /app/instance && chown 10001:10001 /app/instance
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; [u.urlopen('http://127.0.0.1:8000' + p, timeout=4) for p in ('/healthz', '/readyz')]"]
CMD ["sh", "-c", "alembic upgrade head && exec gunicorn -c gunicorn.conf.py wsgi:app"]
