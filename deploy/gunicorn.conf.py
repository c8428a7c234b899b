"""gunicorn for every deployment (image, compose, Kubernetes, Procfile):
``gunicorn -c deploy/gunicorn.conf.py saas.wsgi``. Settings come from the environment."""

import os
import sys
import tempfile

# Prometheus: every worker writes its figures here and /metrics adds them up (saas/metrics.py).
# Set before the app (and prometheus_client) is loaded.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="carebridge-metrics-"))

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# Sync workers: tenant work stays on WSGI (a thread per request would lose the schema).
worker_class = "sync"
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 30
# Recycle workers now and then (slow leaks), staggered so they never restart together.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
# Load the app before forking: the workers share its pages, and saas.wsgi freezes it.
preload_app = True
# No access log: gunicorn's lines carry query strings (a searched patient name); Django writes
# one line per request with the URL pattern, the tenant and the request id (saas/logs.py).
accesslog = None
errorlog = "-"
# Behind the ingress / load balancer, which sets X-Forwarded-Proto.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")


def when_ready(server):
    """The app is loaded (preload_app): stop here, with one line, if the database or the media
    bucket cannot be reached, rather than answer every request with an error."""
    from saas.startup import startup_problems  # the app's settings are loaded only by now

    for problem in startup_problems():
        server.log.error("CareBridge cannot start: %s", problem)
        sys.exit(1)


def on_starting(server):
    from saas.metrics import metrics_dir_reset  # loaded with the app, after the line above

    metrics_dir_reset(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
