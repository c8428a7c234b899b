"""Provisioning from two requests at once: each on its own connection, with real commits."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django_tenants.utils import schema_exists

from tenants import schemas
from tenants.models import PooledSchema, Tenant
from tenants.services import tenant_provision
from tests.conftest import committed

# The test's own connection stays in its (rolled back) transaction; all real work runs on
# other connections through committed() and the provisioning threads.
pytestmark = pytest.mark.django_db


def provision_in_parallel(slugs: list[str]) -> list:
    """Provision each slug in its own thread, all released at once; return each outcome."""
    start = threading.Barrier(len(slugs))
    outcomes: list = [None] * len(slugs)

    def work(index: int, slug: str) -> None:
        start.wait()
        try:
            outcomes[index] = tenant_provision(
                name=slug, slug=slug, kind="service", admin_email=f"admin@{slug}.test"
            )
        except ValidationError as exc:
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, s)) for i, s in enumerate(slugs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def _remove_race_tenants_and_pool() -> None:
    for tenant in Tenant.objects.filter(schema_name__startswith="race-"):
        schemas.schema_drop(tenant.schema_name)
        tenant.domains.all().delete()
        tenant.delete()
    for pooled in PooledSchema.objects.all():
        schemas.schema_drop(pooled.schema_name)
        pooled.delete()


@pytest.fixture(autouse=True)
def _cleanup():
    yield
    committed(_remove_race_tenants_and_pool)


def test_two_sign_ups_at_once_claim_different_pooled_schemas():
    committed(schemas.pool_refill, 2)
    pooled = committed(lambda: set(PooledSchema.objects.values_list("schema_name", flat=True)))

    first, second = provision_in_parallel(["race-one", "race-two"])

    assert (first.method, second.method) == ("pool", "pool")
    assert committed(lambda: [schema_exists(s) for s in ["race-one", "race-two", *pooled]]) == [
        True,
        True,
        False,
        False,
    ]
    assert committed(PooledSchema.objects.count) == 0


def test_the_same_slug_twice_at_once_makes_one_tenant_and_one_clear_error():
    outcomes = provision_in_parallel(["race-same", "race-same"])

    errors = [o for o in outcomes if isinstance(o, ValidationError)]
    assert len(errors) == 1
    assert errors[0].code == "duplicate_slug"
    assert committed(Tenant.objects.filter(schema_name="race-same").count) == 1
    assert committed(schema_exists, "race-same")


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_provisioning_leaves_its_connection_for_a_fresh_one():
    """The connection that made a schema is not reused for the next sign-up: its catalog
    caches hold the schema's relations and made each later provisioning slower."""

    def provision_and_look():
        before = _backend_pid()
        result = tenant_provision(
            name="Renew", slug="race-renew", kind="service", admin_email="admin@renew.test"
        )
        closed = connection.connection is None
        return result.method, before, closed, _backend_pid()

    method, before, closed, after = committed(provision_and_look)

    assert method == "clone"
    assert closed
    assert after != before
    assert schema_exists("race-renew")


def test_inside_a_transaction_provisioning_keeps_its_connection():
    before = _backend_pid()

    tenant_provision(name="Kept", slug="race-kept", kind="service", admin_email="a@kept.test")

    assert connection.in_atomic_block
    assert _backend_pid() == before
