"""Project-level pages: the public landing page and the page for hosts we do not serve."""

import sys

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, HttpResponseServerError
from django.middleware import csp
from django.shortcuts import render
from django.template import loader


def unknown_host(request):
    return render(
        request,
        "saas/unknown_host.html",
        {"host": request.get_host().split(":")[0], "base_domain": settings.BASE_DOMAIN},
        status=404,
    )


def landing(request):
    return render(request, "saas/landing.html")


def server_error(request) -> HttpResponse:
    """The error page (no database, no context processors). When the database is out of reach
    (a restart, a failover, PgBouncer away) it is a 503 with Retry-After: a load balancer or a
    browser may try again, and the next request reconnects by itself (conn_health_checks)."""
    context = {"csp_nonce": csp.get_nonce(request)}
    if isinstance(sys.exc_info()[1], OperationalError | InterfaceError):
        response = HttpResponse(loader.get_template("503.html").render(context), status=503)
        response["Retry-After"] = "30"
        return response
    return HttpResponseServerError(loader.get_template("500.html").render(context))
