"""Project-level pages: the public landing page and the page for hosts we do not serve."""

from django.conf import settings
from django.shortcuts import render


def unknown_host(request):
    return render(
        request,
        "saas/unknown_host.html",
        {"host": request.get_host().split(":")[0], "base_domain": settings.BASE_DOMAIN},
        status=404,
    )


def landing(request):
    return render(request, "saas/landing.html")
