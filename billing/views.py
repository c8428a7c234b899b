"""Billing pages. On BASE_DOMAIN: the pricing page, sign-up and the Stripe webhook; on a
tenant's host: its Billing page (administrators only). Thin: parse, call a service, render."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from saas import ratelimit
from saas.celery import enqueue_on_commit
from tenants.links import tenant_url
from tenants.models import Tenant

from . import entitlements, selectors, services
from .forms import SignupForm
from .models import BillingAccount, Plan
from .stripe.client import is_configured
from .stripe.webhook import InvalidWebhook, webhook_store, webhook_verify

logger = logging.getLogger(__name__)

# Administrators hold it (crm.roles): the Billing page belongs with the clinic's settings.
MANAGE_BILLING = "tenants.change_tenant"


# --- Public site ------------------------------------------------------------------------


def pricing(request):
    return render(request, "billing/pricing.html", {"plans": selectors.plans_public()})


def signup(request):
    initial = {}
    if code := request.GET.get("plan"):
        initial["plan"] = Plan.objects.filter(public=True, code=code).first()
    form = SignupForm(request.POST or None, initial=initial)
    if request.method == "POST" and not _signup_allowed(request):
        form.is_valid()  # errors of the fields still shown, what was typed kept
        form.add_error(None, _("Too many sign-ups from your network. Please try again in an hour."))
        return render(request, "billing/signup.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = services.signup(
                name=data["name"], slug=data["slug"], kind=data["kind"],
                admin_email=data["admin_email"], locale=data["locale"], plan=data["plan"],
            )  # fmt: skip
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            request.session["signup_tenant"] = result.tenant.pk
            return redirect("billing:signup_done")
    return render(request, "billing/signup.html", {"form": form})


def _signup_allowed(request) -> bool:
    """At most BILLING_SIGNUPS_PER_HOUR sign-up attempts per address and hour: each one may
    create a schema, and the form would otherwise also probe which names are taken."""
    key = f"billing:signup:{request.META.get('REMOTE_ADDR', '')}"
    return ratelimit.hit(key, limit=settings.BILLING_SIGNUPS_PER_HOUR, seconds=3600)


def signup_done(request):
    tenant = Tenant.objects.filter(pk=request.session.get("signup_tenant")).first()
    if tenant is None:
        return redirect("billing:signup")
    account = BillingAccount.objects.filter(tenant=tenant).first()
    return render(
        request,
        "billing/signup_done.html",
        {"tenant": tenant, "account": account, "tenant_url": tenant_url(tenant)},
    )


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Verify, store by event id, hand over to a task; answer at once. A redelivered event
    that took effect is acknowledged and nothing else; one that has not (its processing
    failed) is queued again."""

    try:
        data = webhook_verify(request.body, request.headers.get("Stripe-Signature"))
    except InvalidWebhook as exc:
        logger.warning("Stripe webhook refused: %s", exc)
        return HttpResponseBadRequest("invalid webhook")
    received = webhook_store(data)
    if received.event.processed_at is None:
        enqueue_on_commit("billing.tasks.webhook_event_process_task", received.event.pk)
    return HttpResponse("ok" if received.new else "duplicate")


# --- Tenant's Billing page --------------------------------------------------------------


@login_required
@permission_required(MANAGE_BILLING, raise_exception=True)
def billing_page(request):
    tenant = connection.tenant
    account = services.account_ensure(tenant)
    seats = get_user_model().objects.filter(is_active=True).count()
    if request.GET.get("checkout") == "success":
        messages.success(
            request,
            _("Thank you. Your subscription starts as soon as Stripe confirms the payment."),
        )
    return render(
        request,
        "billing/billing.html",
        {
            "account": account,
            "plan": entitlements.plan_of(tenant),
            "subscription": selectors.subscription_current(account),
            "subscribed": account.subscriptions.filter(
                status__in=services.LIVE_SUBSCRIPTION_STATES
            ).exists(),
            "usage": entitlements.usage_summary(tenant, active_seats=seats, storage=True),
            "plans": selectors.plans_public(),
            "stripe_ready": is_configured(),
        },
    )


@require_POST
@login_required
@permission_required(MANAGE_BILLING, raise_exception=True)
def checkout(request):
    plan = get_object_or_404(Plan, public=True, code=request.POST.get("plan", ""))
    try:
        url = services.checkout_start(
            tenant=connection.tenant,
            plan=plan,
            interval=request.POST.get("interval", "month"),
            email=request.user.email,
            return_url=request.build_absolute_uri("/billing/"),
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("billing:page")
    return redirect(url)


@require_POST
@login_required
@permission_required(MANAGE_BILLING, raise_exception=True)
def portal(request):
    try:
        url = services.portal_open(
            tenant=connection.tenant, return_url=request.build_absolute_uri("/billing/")
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("billing:page")
    return redirect(url)
