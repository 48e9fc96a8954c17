"""gunicorn settings, read from the environment (nickjj/docker-flask-example style).

PORT (default 8000) and GUNICORN_BIND (default 127.0.0.1:$PORT; the container sets
0.0.0.0:8000), WEB_CONCURRENCY workers (default 2), PYTHON_MAX_THREADS threads per worker.
"""

import os

bind = os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("PYTHON_MAX_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# Access logs carry paths and statuses only; request bodies (amounts, keys) never reach them.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(L)ss'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
