"""Liveness and readiness probes for load balancers, compose and Kubernetes.

``/healthz`` says the process answers (no database: a database outage must not make the
orchestrator restart every web process). ``/readyz`` says this process can serve now: the
database, the cache and the Celery broker answer; each failure is named, with 503 so that a
load balancer takes the node out. Both are answered by ``ProbeMiddleware`` before tenant
routing and the HTTPS redirect, so a probe addressed to the pod's IP gets an answer."""

import asyncio
import dataclasses

from django.http import HttpResponse
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView

from saas.celery import app as celery_app


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker accepts a connection (Redis, RabbitMQ, or the local filesystem
    transport): without it nothing a request enqueues would ever run."""

    seconds: float = dataclasses.field(default=2.0, repr=False)

    def run(self) -> None:
        try:
            with celery_app.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, timeout=self.seconds)
        except Exception as exc:  # kombu raises the transport's own errors
            raise ServiceUnavailable("the Celery broker does not answer") from exc


class ReadinessView(HealthCheckView):
    """JSON ``{"Database(alias='default')": "OK", …}``; 503 naming what failed."""

    checks = (Database, Cache, Broker)

    async def get(self, request, *args, **kwargs):
        with self.get_executor() as executor:
            self.results = await asyncio.gather(
                *(check.get_result(executor) for check in self.get_checks())
            )
        failed = any(result.error for result in self.results)
        return self.render_to_response_json(503 if failed else 200)


readiness = ReadinessView.as_view()


def liveness(request) -> HttpResponse:
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")
