"""Each API key has an allowance of requests a minute; past it, a 429 says when to come back.
The allowance of one clinic's key is not spent by another clinic's traffic."""

import time

import pytest
from django.core.cache import cache

from crm.api.auth import RATE_WINDOW_SECONDS, rate_limit
from crm.api.errors import ApiError
from crm.models import ApiKey
from tests.api.conftest import ApiClient, make_key

ALLOWANCE = 3


@pytest.fixture(autouse=True)
def _small_allowance(settings):
    settings.API_REQUESTS_PER_MINUTE = ALLOWANCE
    cache.clear()
    # The requests of a test fall in one clock minute, not across the boundary.
    left = RATE_WINDOW_SECONDS - time.time() % RATE_WINDOW_SECONDS
    if left < 5:
        time.sleep(left + 0.1)
    yield
    cache.clear()


def test_past_the_allowance_a_key_gets_429_with_retry_after(api_a):
    for _ in range(ALLOWANCE):
        assert api_a.get("/tasks").status_code == 200

    refused = api_a.get("/tasks")

    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= RATE_WINDOW_SECONDS
    assert body["retry_after"] == int(refused["Retry-After"])
    assert str(ALLOWANCE) in body["message"]
    # Writes are counted as well, and refused before they touch anything.
    assert api_a.post("/encounters/bulk", {"rows": []}).status_code == 429


def test_retry_after_counts_to_the_next_minute(tenant_a, in_tenant, key_a):
    api_key, _secret = key_a
    start = 600 * RATE_WINDOW_SECONDS + 17.5  # 17.5 s into a minute
    with in_tenant(tenant_a):
        for _ in range(ALLOWANCE):
            rate_limit(api_key, now=start)
        with pytest.raises(ApiError) as refused:
            rate_limit(api_key, now=start + 1)
        assert (refused.value.status, refused.value.headers) == (429, {"Retry-After": "42"})
        # The next minute has a fresh allowance.
        rate_limit(api_key, now=start + 43)


def test_tenant_b_traffic_does_not_spend_tenant_as_allowance(tenant_a, tenant_b, in_tenant, key_a):
    api_key_a, secret_a = key_a
    api_key_b, secret_b = make_key(tenant_b, in_tenant)
    # The same key id in both clinics (each schema numbers its keys from 1): only the
    # clinic in the counter's key keeps their allowances apart.
    with in_tenant(tenant_b):
        ApiKey.objects.filter(pk=api_key_b.pk).update(id=api_key_a.pk)
    api_a = ApiClient(tenant_a, secret_a)
    api_b = ApiClient(tenant_b, secret_b)

    for _ in range(ALLOWANCE):
        assert api_b.get("/tasks").status_code == 200
    assert api_b.get("/tasks").status_code == 429

    assert [api_a.get("/tasks").status_code for _ in range(ALLOWANCE)] == [200] * ALLOWANCE
    assert api_a.get("/tasks").status_code == 429


def test_each_key_of_a_clinic_has_its_own_allowance(tenant_a, in_tenant, api_a):
    _key, other = make_key(tenant_a, in_tenant)
    for _ in range(ALLOWANCE + 1):
        api_a.get("/tasks")
    assert api_a.get("/tasks").status_code == 429
    assert ApiClient(tenant_a, other).get("/tasks").status_code == 200


def test_the_schema_documents_429(api_a):
    schema = api_a.client.get("/api/v1/openapi.json").json()
    responses = schema["paths"]["/api/v1/tasks/{task_id}/attempts"]["post"]["responses"]
    assert "429" in responses
