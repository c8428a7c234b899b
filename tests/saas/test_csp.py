"""The Content-Security-Policy header (saas/csp.py, settings.SECURE_CSP): no inline script or
style on our pages (the request's nonce is named only when a page uses it, which none does
but the error page), no other origin; Wagtail's
admin its own looser policy, still of our origin only. tests/e2e/test_csp.py shows the
browser refuses nothing on our pages and runs no injected script."""

import re

import pytest

from saas.csp import ContentSecurityPolicyMiddleware
from saas.views import server_error
from tests.crm.conftest import admin_client_a  # noqa: F401

pytestmark = pytest.mark.django_db


def _policy(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def test_pages_allow_scripts_and_styles_of_our_origin_only(admin_client_a):  # noqa: F811
    for path in ("/", "/worklist/", "/contacts/", "/reports/dashboard/", "/billing/"):
        policy = _policy(admin_client_a.get(path))
        assert policy["script-src"] == "'self'", path
        assert policy["style-src"] == "'self'", path
        assert policy["default-src"] == "'self'"
        assert policy["object-src"] == "'none'"
        assert policy["frame-ancestors"] == "'self'"
        assert policy["form-action"].startswith("'self' https://checkout.stripe.com")


def test_the_error_page_styles_itself_with_the_responses_own_nonce(rf):
    request = rf.get("/")
    middleware = ContentSecurityPolicyMiddleware(lambda request: server_error(request))
    first, second = middleware(request), middleware(rf.get("/"))

    nonce = re.search(r"'nonce-([^']+)'", _policy(first)["style-src"]).group(1)
    assert f'<style nonce="{nonce}">' in first.content.decode()
    assert nonce not in second.headers["Content-Security-Policy"]


def test_the_sign_in_page_and_the_patient_site_carry_the_policy(client_a):
    for path in ("/accounts/login/", "/health/"):
        response = client_a.get(path)
        assert response.status_code == 200, path
        assert _policy(response)["script-src"] == "'self'", path


def test_wagtails_admin_gets_its_inline_styles_and_scripts_but_no_other_origin(
    admin_client_a,  # noqa: F811
):
    policy = _policy(admin_client_a.get("/cms/admin/"))

    assert policy["script-src"] == "'self' 'unsafe-inline'"
    assert policy["default-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert "http" not in policy["img-src"]
