"""API keys: made by the clinic's administrator (page and command), shown once, stored
hashed, scoped, revocable, and valid on their own clinic's domain only."""

import hashlib
import io

from django.core.management import call_command
from django.utils import timezone

from crm.models import ApiKey, Encounter
from crm.services.api_keys import api_key_revoke
from tests.api.conftest import ApiClient, make_key
from tests.crm.conftest import in_english


def test_key_is_stored_as_a_hash_and_records_its_last_use(tenant_a, in_tenant, key_a):
    api_key, key = key_a
    assert key.startswith(f"cb_{api_key.prefix}_")
    with in_tenant(tenant_a):
        stored = ApiKey.objects.get(pk=api_key.pk)
        assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert key not in str(ApiKey.objects.filter(pk=api_key.pk).values().get())
        assert stored.last_used_at is None
    response = ApiClient(tenant_a, key).get("/encounters")
    assert response.status_code == 200
    with in_tenant(tenant_a):
        assert ApiKey.objects.get(pk=api_key.pk).last_used_at is not None


def test_without_a_key_the_answer_is_401_json(tenant_a):
    response = ApiClient(tenant_a, None).get("/encounters")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_key_of_another_tenant_is_rejected(tenant_a, tenant_b, in_tenant, key_b):
    response = ApiClient(tenant_a, key_b[1]).post(
        "/encounters/bulk",
        {"rows": [{"external_id": "X1", "name": "张三", "occurred_at": "2026-11-20"}]},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_key"
    with in_tenant(tenant_a):
        assert not Encounter.objects.filter(external_id="X1").exists()
    # The same key works on its own tenant's domain.
    assert ApiClient(tenant_b, key_b[1]).get("/encounters").status_code == 200


def test_a_guessed_key_with_a_real_prefix_is_rejected(tenant_a, key_a):
    api_key, key = key_a
    response = ApiClient(tenant_a, f"cb_{api_key.prefix}_guess").get("/encounters")
    assert (response.status_code, response.json()["code"]) == (401, "invalid_key")


def test_a_revoked_key_is_rejected(tenant_a, in_tenant, key_a):
    api_key, key = key_a
    with in_tenant(tenant_a):
        api_key_revoke(api_key)
    response = ApiClient(tenant_a, key).get("/encounters")
    assert response.status_code == 401
    assert response.json() == {"code": "key_revoked", "message": "This API key has been revoked."}


def test_a_key_without_the_scope_gets_403_and_nothing_is_written(tenant_a, in_tenant):
    _api_key, key = make_key(tenant_a, in_tenant, scopes=["read"])
    response = ApiClient(tenant_a, key).post(
        "/encounters/bulk",
        {"rows": [{"external_id": "X1", "name": "张三", "occurred_at": "2026-11-20"}]},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "scope_missing"
    with in_tenant(tenant_a):
        assert not Encounter.objects.exists()


def test_admin_creates_a_key_sees_it_once_and_revokes_it(admin_client_a, tenant_a, in_tenant):
    client = in_english(admin_client_a)
    response = client.post(
        "/settings/api-keys/", {"name": "HIS nightly push", "scopes": ["read", "write"]}
    )
    assert response.status_code == 200
    key = response.context["new_key"]
    assert key.startswith("cb_")
    assert key in response.content.decode()
    with in_tenant(tenant_a):
        api_key = ApiKey.objects.get(name="HIS nightly push")
        assert api_key.scopes == ["read", "write"]
    # Shown once: the list afterwards has the prefix only.
    page = client.get("/settings/api-keys/").content.decode()
    assert "HIS nightly push" in page and api_key.prefix in page and key not in page
    assert ApiClient(tenant_a, key).get("/encounters").status_code == 200

    assert client.post(f"/settings/api-keys/{api_key.pk}/revoke/").status_code == 302
    with in_tenant(tenant_a):
        assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None
    assert ApiClient(tenant_a, key).get("/encounters").status_code == 401


def test_a_key_needs_a_name_and_a_scope(admin_client_a, tenant_a, in_tenant):
    response = in_english(admin_client_a).post("/settings/api-keys/", {"name": "", "scopes": []})
    assert response.status_code == 200
    assert response.context["new_key"] is None
    assert response.context["form"].errors == {
        "name": ["This field is required."],
        "scopes": ["This field is required."],
    }
    with in_tenant(tenant_a):
        assert not ApiKey.objects.exists()


def test_agents_cannot_manage_keys(agent_client_a):
    assert agent_client_a.get("/settings/api-keys/").status_code == 403


def test_an_admin_cannot_revoke_another_tenants_key(admin_client_a, tenant_b, in_tenant, key_b):
    api_key, _key = key_b
    # The id is looked up in tenant A's schema: not found there.
    response = admin_client_a.post(f"/settings/api-keys/{api_key.pk}/revoke/")
    assert response.status_code == 404
    with in_tenant(tenant_b):
        assert ApiKey.objects.get(pk=api_key.pk).revoked_at is None


def test_command_creates_a_key_and_prints_it_once(tenant_a, in_tenant):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "api_key_create",
        "--schema",
        "alpha",
        "--name",
        "CTI",
        "--scopes",
        "read,write",
        stdout=out,
        stderr=err,
    )
    key = out.getvalue().strip()
    with in_tenant(tenant_a):
        api_key = ApiKey.objects.get(name="CTI")
        assert api_key.scopes == ["read", "write"]
        assert api_key.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert api_key.created_at <= timezone.now()


def test_a_plan_without_api_access_refuses_every_key(tenant_a, key_a, account_a, plans):
    from billing.models import BillingAccount

    BillingAccount.objects.filter(pk=account_a.pk).update(plan=plans["starter"])
    response = ApiClient(tenant_a, key_a[1]).get("/encounters")
    assert (response.status_code, response.json()["code"]) == (403, "plan_without_api")
