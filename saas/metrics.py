"""Prometheus metrics: requests per view (count and latency), database queries per view, and
Celery tasks per task name (received, succeeded, failed, retried; run time). Labels are view
and task *names*, never paths, clinics' names or patients' anything.

gunicorn and Celery's prefork pool run several processes: with ``PROMETHEUS_MULTIPROC_DIR``
set (deploy/gunicorn.conf.py sets it for web; a worker's environment for Celery) each process
writes its figures there and a scrape adds them up. Web serves them at ``/metrics``, a worker
on ``CELERY_METRICS_PORT``; both only to a caller with ``METRICS_TOKEN``
(``Authorization: Bearer …``), so the figures never reach the internet through the ingress.

Figures that are read rather than counted (a clinic's backlog, the broker's queue) are
gathered at scrape time by collectors that other modules hand to ``scrape_collector_add``;
only web's ``/metrics`` includes them, so each is read once per scrape, not once per worker.

django-prometheus would be the ready-made choice, but its releases require Django < 6.1."""

import hmac
import logging
import os
import threading
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import kombu.exceptions
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    make_wsgi_app,
    multiprocess,
)
from prometheus_client import REGISTRY as PROCESS_REGISTRY
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)

REQUESTS = Counter(
    "carebridge_http_requests", "HTTP requests answered", ["view", "method", "status"]
)
REQUEST_SECONDS = Histogram(
    "carebridge_http_request_duration_seconds", "Time to answer a request", ["view", "method"]
)
QUERIES = Counter("carebridge_db_queries", "Database queries made", ["view"])
QUERY_SECONDS = Histogram("carebridge_db_query_duration_seconds", "Time per query", ["view"])
TASKS = Counter("carebridge_celery_tasks", "Celery tasks by outcome", ["task", "outcome"])
TASK_SECONDS = Histogram("carebridge_celery_task_duration_seconds", "Task run time", ["task"])


def registry() -> CollectorRegistry:
    """Every process's figures under gunicorn or a prefork pool, else this process's."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return PROCESS_REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected)
    return collected


# Collectors read at each scrape of web's /metrics (scrape_collector_add).
_SCRAPE_COLLECTORS: list = []


def scrape_collector_add(collector) -> None:
    """Include ``collector`` (a prometheus_client custom collector with ``collect()`` and
    ``describe()``) in every scrape of web's ``/metrics``. Apps above ``saas`` register theirs
    here, so that this module needs to import none of them."""
    _SCRAPE_COLLECTORS.append(collector)
    # describe() names the families without reading anything: a name used twice fails here,
    # at start-up, rather than at every scrape.
    scrape_registry()


def scrape_registry() -> CollectorRegistry:
    """The collectors read at scrape time, in a registry of their own: they are not in the
    process registry, which the workers' metrics port serves too."""
    collected = CollectorRegistry()
    for collector in _SCRAPE_COLLECTORS:
        collected.register(collector)
    return collected


def authorised(header: str) -> bool:
    token = settings.METRICS_TOKEN
    return bool(token) and hmac.compare_digest(header.encode(), f"Bearer {token}".encode())


def metrics_view(request) -> HttpResponse:
    if not authorised(request.headers.get("Authorization", "")):
        return HttpResponse("Not found\n", status=404, content_type="text/plain")
    exposition = generate_latest(registry()) + generate_latest(scrape_registry())
    return HttpResponse(exposition, content_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Second in MIDDLEWARE (after the probes): counts every answered request by view name,
    with its time and its database queries, the tenant lookup included."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        queries = QueryCounter()
        started = time.perf_counter()
        with connection.execute_wrapper(queries):
            response = self.get_response(request)
        match = request.resolver_match
        view = match.view_name if match else "(no route)"
        request_observe(
            view, request.method, response.status_code, time.perf_counter() - started, queries
        )
        return response


def metrics_dir_reset(path: str) -> None:
    """A multiprocess directory starts empty: figures of an earlier run's processes would be
    added to this run's."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


class QueryCounter:
    """An ``execute_wrapper`` counting one request's queries and their time."""

    def __init__(self):
        self.count = 0
        self.seconds: list[float] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds.append(time.perf_counter() - started)


def request_observe(view: str, method: str, status: int, seconds: float, queries: QueryCounter):
    REQUESTS.labels(view, method, str(status)).inc()
    REQUEST_SECONDS.labels(view, method).observe(seconds)
    QUERIES.labels(view).inc(queries.count)
    for query_seconds in queries.seconds:
        QUERY_SECONDS.labels(view).observe(query_seconds)


class CeleryQueueCollector:
    """``carebridge_celery_queue_messages{queue}``: messages waiting in the broker, read at
    scrape time. A broker out of reach leaves the samples out rather than failing the scrape
    (``/readyz`` reports the broker). Takes the Celery app because saas.celery imports this
    module."""

    def __init__(self, app, *, seconds: float = 2.0):
        self.app = app
        self.seconds = seconds

    def describe(self):
        return [self._family()]

    def collect(self):
        depths = self.depths()
        if depths is None:
            return
        family = self._family()
        for queue, depth in depths.items():
            family.add_metric([queue], depth)
        yield family

    def depths(self) -> dict[str, int] | None:
        """Messages waiting per queue, over one short-lived connection; None when the broker
        does not answer."""
        timeouts = {"socket_connect_timeout": self.seconds, "socket_timeout": self.seconds}
        with self.app.connection_for_read(transport_options=timeouts) as connection:
            broker_errors = (
                kombu.exceptions.OperationalError,
                *connection.connection_errors,
                *connection.channel_errors,
            )
            try:
                # One attempt: kombu sleeps seconds between retries, and a scrape has a
                # deadline of its own.
                connection.ensure_connection(max_retries=0, timeout=self.seconds)
                return {queue: _queue_depth(connection, queue) for queue in self.queue_names()}
            except broker_errors as exc:
                logger.warning("Celery queue depth not read: %s", exc.__class__.__name__)
                return None

    def queue_names(self) -> list[str]:
        """The default queue, the declared ones and those named in static task routes."""
        conf = self.app.conf
        names = [conf.task_default_queue]
        names += [queue.name for queue in conf.task_queues or ()]
        routes = conf.task_routes or ()
        for router in routes if isinstance(routes, list | tuple) else (routes,):
            if isinstance(router, dict):
                names += [_route_queue(route) for route in router.values()]
        return sorted({name for name in names if name})

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "carebridge_celery_queue_messages",
            "Messages waiting in the Celery broker",
            labels=["queue"],
        )


def _route_queue(route) -> str | None:
    """The queue a static route sends to: "name", {"queue": "name"} or a kombu Queue."""
    queue = route.get("queue") if isinstance(route, dict) else route
    return getattr(queue, "name", queue) if queue else None


def _queue_depth(connection, queue: str) -> int:
    try:
        with connection.channel() as channel:
            return channel.queue_declare(queue=queue, passive=True).message_count
    except connection.channel_errors as exc:
        # Redis deletes a queue's list when its last message is taken, so an empty queue is
        # not found (NOT_FOUND, reply code 404, as RabbitMQ answers for one never declared).
        if str(getattr(exc, "reply_code", "")) == "404":
            return 0
        raise


def worker_metrics_serve(port: int) -> None:
    """A Celery worker's figures over HTTP on ``port`` (any path), to the token's holder only,
    from a daemon thread of the worker's main process."""
    exposition = make_wsgi_app(registry())

    def guarded(environ, start_response):
        if not authorised(environ.get("HTTP_AUTHORIZATION", "")):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not found\n"]
        return exposition(environ, start_response)

    server = make_server("0.0.0.0", port, guarded, _ThreadingServer, _QuietHandler)  # noqa: S104
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        """Scrapes are not worth a log line each."""
