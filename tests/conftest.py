"""Test fixtures. The test database is migrated once (which also builds the template
schema); two tenants, alpha (hospital, zh-hans) and beta (dental, en), are provisioned once per
session and committed, so each test runs in a transaction that rolls back its own changes.
Every test states its time: see tests/clock.py."""

import threading

import pytest
import tenant_schemas_celery.task
import time_machine
from celery._state import _set_task_join_will_block
from django.core import mail
from django.core.cache import caches
from django.db import connection, transaction
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tenants.utils import tenant_context

from tenants.models import Domain, Tenant
from tenants.services import public_tenant_ensure, tenant_provision
from tests.clock import ENV, at, suite_now, utc
from tests.factories import PASSWORD, StaffFactory, VendorStaffFactory, totp_code

ALPHA = "alpha"
BETA = "beta"
SUITE_NOW = suite_now()


def pytest_report_header(config):
    return f"clock: every test starts at {SUITE_NOW:%Y-%m-%dT%H:%M:%SZ} ({ENV} to move it)"


class _SuiteClock:
    """One time-machine traveller for the whole session; each test moves it (LIFO stops
    would make nested travellers fragile across fixtures of different scopes)."""

    def __init__(self):
        self.travel = None
        self.traveller = None

    def start(self):
        self.travel = time_machine.travel(utc(SUITE_NOW), tick=True)
        self.traveller = self.travel.start()

    def stop(self):
        self.travel.stop()
        self.travel = self.traveller = None


@pytest.fixture(scope="session", autouse=True)
def _suite_clock():
    suite_clock = _SuiteClock()
    suite_clock.start()
    yield suite_clock
    if suite_clock.travel is not None:
        suite_clock.stop()


@pytest.fixture(autouse=True)
def clock(request, _suite_clock):
    """The test's clock (a time-machine traveller: ``move_to``, ``shift``), started at the
    ``now`` marker's instant or the suite's, and set back to the suite's instant afterwards so
    that the next module's fixtures are made then too."""
    if request.node.get_closest_marker("real_clock"):
        _suite_clock.stop()
        yield None
        _suite_clock.start()
        return
    start, tick = SUITE_NOW, True
    marker = request.node.get_closest_marker("now")
    if marker:
        options = dict(marker.kwargs)
        tick = options.pop("tick", True)
        start = at(*marker.args, **options)
    traveller = _suite_clock.traveller
    traveller.move_to(utc(start), tick=tick)
    yield traveller
    traveller.move_to(utc(SUITE_NOW), tick=True)


@pytest.fixture(autouse=True)
def _fresh_caches(clock):
    """Tests start at one instant, so what an earlier test cached has not expired by the
    clock: each test starts with empty in-process caches (Django's, and tenant-schemas-celery's
    tenant-by-schema cache, which would hand a task the Tenant of an earlier test's schema)."""
    caches["default"].clear()
    tenant_schemas_celery.task._shared_storage.clear()


@pytest.fixture(autouse=True)
def _results_may_be_awaited():
    """Celery marks "waiting for a result would deadlock here" in one flag for the whole
    process while an eager task runs, and puts back what it found when the task ends. Eager
    tasks of the browser tests' server threads overlap, so one may put back another's mark
    and leave it set: a later test's ``.delay().get()`` would then be refused. Each test
    starts unmarked, as a fresh process would."""
    _set_task_join_will_block(False)


@pytest.fixture(scope="session")
def django_db_setup(_suite_clock, django_db_setup, django_db_blocker):
    # pytest-django makes the test database only when a collected test is marked for database
    # access; without one this would provision into the real database named by DATABASE_URL.
    assert connection.settings_dict["NAME"].startswith("test_"), (
        "No test database was set up: mark the test with pytest.mark.django_db."
    )
    with django_db_blocker.unblock():
        public_tenant_ensure()
        tenant_provision(
            name="Alpha 人民医院", slug=ALPHA, kind="hospital", admin_email="boss@alpha.test"
        )
        tenant_provision(
            name="Beta Dental", slug=BETA, kind="dental", admin_email="boss@beta.test", locale="en"
        )
        # Committed accounts for the browser tests, whose live server sees only committed rows.
        with tenant_context(Tenant.objects.get(schema_name=ALPHA)):
            StaffFactory(email="e2e-admin@alpha.test", role="admin")
            StaffFactory(email="e2e-agent@alpha.test", role="agent")
        connection.set_schema_to_public()
        mail.outbox = []
    yield
    # Threads that served the browser tests or ran tasks may leave an idle connection behind;
    # end them so the test database can be dropped.
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _public_schema_between_tests():
    """A request through the test client leaves the connection in the tenant it served."""
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()


@pytest.fixture
def tenant_a(db) -> Tenant:
    return Tenant.objects.get(schema_name=ALPHA)


@pytest.fixture
def tenant_b(db) -> Tenant:
    return Tenant.objects.get(schema_name=BETA)


@pytest.fixture
def in_tenant():
    """``with in_tenant(t):`` run ORM code in a tenant's schema, then go back to public."""

    def enter(tenant):
        return tenant_context(tenant)

    return enter


def host_of(tenant: Tenant) -> str:
    return tenant.primary_host


@pytest.fixture
def client_a(tenant_a) -> Client:
    return Client(HTTP_HOST=host_of(tenant_a))


@pytest.fixture
def client_b(tenant_b) -> Client:
    return Client(HTTP_HOST=host_of(tenant_b))


@pytest.fixture
def public_client(db) -> Client:
    return Client(HTTP_HOST="localhost")


@pytest.fixture
def admin_a(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        return StaffFactory(email="admin@alpha.test", role="admin")


@pytest.fixture
def agent_a(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        return StaffFactory(email="agent@alpha.test", role="agent")


@pytest.fixture
def admin_b(tenant_b, in_tenant):
    with in_tenant(tenant_b):
        return StaffFactory(email="admin@beta.test", role="admin")


@pytest.fixture
def vendor_staff(db):
    connection.set_schema_to_public()
    return VendorStaffFactory(email="ops@carebridge.test")


TWO_STEP_PAGE = "/accounts/two-step/verify/"


def tenant_of_host(host: str) -> Tenant:
    """The clinic (or the public tenant of the console) served on ``host``."""
    return Domain.objects.select_related("tenant").get(domain=host.split(":")[0]).tenant


def authenticator_of(host: str, email: str) -> TOTPDevice:
    """The authenticator app of ``email`` at the clinic (or console) served on ``host``."""
    with tenant_context(tenant_of_host(host)):
        return TOTPDevice.objects.get(user__username=email, confirmed=True)


def login(client: Client, email: str, password: str = PASSWORD):
    """Sign in through the real pages: the password, then, when the page asks for it, the
    code the user's authenticator app shows. Returns the last response."""
    response = client.post("/accounts/login/", {"username": email, "password": password})
    if response.status_code == 302 and response["Location"].startswith(TWO_STEP_PAGE):
        device = authenticator_of(client.defaults.get("HTTP_HOST", "testserver"), email)
        response = client.post(response["Location"], {"code": totp_code(device)})
    return response


def committed(work, *args, **kwargs):
    """Run ``work`` in a thread of its own, on its own connection and outside the test's
    transaction, so that what it writes is committed and visible to other threads (a Celery
    worker, a concurrent request); return its result or raise its exception."""
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = work(*args, **kwargs)
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=120)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def committed_tenant(django_db_blocker, create):
    """For a module's fixture: the tenant `create` makes, committed (a live server sees it),
    then dropped with its schema after the module's tests. Use with `yield from`."""
    from tenants.models import Tenant

    def drop(tenant):
        Tenant.objects.get(pk=tenant.pk).delete(force_drop=True)

    with django_db_blocker.unblock():
        tenant = committed(create)
        yield tenant
        committed(drop, tenant)


def audit_rows_purge(model, **filters) -> None:
    """Clean-up of audit rows that a test COMMITTED (committed threads, browser tests,
    benchmarks), which the test database would otherwise keep for later tests. Audit tables
    refuse DELETE by trigger; replica mode skips triggers for this one transaction. Never
    for product code: there, audit rows are forever (see saas/appendonly.py)."""
    table = connection.ops.quote_name(model._meta.db_table)
    where = " AND ".join(f"{connection.ops.quote_name(column)} = %s" for column in filters)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(f"DELETE FROM {table} WHERE {where}", list(filters.values()))
