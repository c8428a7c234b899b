import pytest
from django.conf import settings
from django.test import Client

from crm.services.api_keys import api_key_create
from tests.api.fake_receiver import FakeReceiver
from tests.billing.conftest import account_a, plans  # noqa: F401  (billing's, used here)
from tests.conftest import host_of
from tests.crm.conftest import admin_client_a, admin_client_b, agent_client_a  # noqa: F401  (crm's)
from tests.surveys.conftest import call_task, link, nurse, survey, survey_task  # noqa: F401


def make_key(tenant, in_tenant, scopes=("read", "write")):
    with in_tenant(tenant):
        return api_key_create(name="HIS", scopes=list(scopes))


@pytest.fixture
def key_a(tenant_a, in_tenant):
    return make_key(tenant_a, in_tenant)


@pytest.fixture
def key_b(tenant_b, in_tenant):
    return make_key(tenant_b, in_tenant)


class ApiClient:
    """Django's test client on a tenant's host (so the tenant middleware routes the request)
    with a bearer key and JSON bodies."""

    def __init__(self, tenant, key: str | None, language: str = "en"):
        self.client = Client(HTTP_HOST=host_of(tenant))
        # Messages come in the clinic's language unless the language cookie says otherwise;
        # the codes are the same in every language.
        self.client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    def get(self, path, params=None):
        return self.client.get(f"/api/v1{path}", params or {}, headers=self.headers)

    def post(self, path, body):
        return self.client.post(
            f"/api/v1{path}", body, content_type="application/json", headers=self.headers
        )


@pytest.fixture
def api_a(tenant_a, key_a):
    return ApiClient(tenant_a, key_a[1])


@pytest.fixture
def api_client():
    return ApiClient


@pytest.fixture
def receiver():
    """A clinic's webhook receiver on 127.0.0.1."""
    fake = FakeReceiver()
    yield fake
    fake.close()
