"""Offboarding (issue 18, item 11): vendor staff close a clinic, which exports and suspends
it; after the grace period its schema, files and domains are deleted and its row stays as a
tombstone; closing can be cancelled until then."""

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django_tenants.utils import schema_exists, tenant_context

from crm.models import ClinicExport
from tenants.models import ConsoleAuditEntry, Domain, Tenant
from tenants.services import tenant_provision
from tenants.tasks import tenants_close_due_task
from tests.cms import test_media_s3
from tests.conftest import login
from tests.crm.conftest import in_english
from tests.factories import ContactFactory

pytestmark = pytest.mark.now("2026-11-24 09:00")

# The S3 media tests' bucket (moto over HTTP) and its listing.
endpoint, bucket, s3_keys = test_media_s3.endpoint, test_media_s3.bucket, test_media_s3.keys


@pytest.fixture
def gamma(db):
    tenant = tenant_provision(
        name="Gamma Clinic", slug="gamma", kind="dental", admin_email="boss@gamma.test"
    ).tenant
    with tenant_context(tenant):
        ContactFactory.create_batch(3)
    # Provisioning leaves deferred foreign-key checks pending in the test's one transaction;
    # DROP SCHEMA refuses tables with pending checks (in production it runs on its own).
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return tenant


@pytest.fixture
def console(public_client, vendor_staff):
    login(public_client, "ops@carebridge.test")
    return public_client


def _close(console, tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(f"/console/tenants/{tenant.pk}/close/", {"reason": "contract"})
    assert response.status_code == 302
    return Tenant.objects.get(pk=tenant.pk)


def test_closing_exports_and_suspends_and_the_vendor_downloads_the_export(
    console, gamma, vendor_staff, django_capture_on_commit_callbacks
):
    closing = _close(console, gamma, django_capture_on_commit_callbacks)

    assert closing.status == Tenant.Status.SUSPENDED
    assert closing.delete_after == closing.closing_at + timedelta(days=30)
    with tenant_context(closing):
        export = ClinicExport.objects.get()
    assert (export.purpose, export.status, export.expires_at) == ("closing", "ready", None)
    response = console.get(f"/console/tenants/{gamma.pk}/close/export.zip")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert json.loads(archive.read("manifest.json"))["counts"]["contacts"] == 3
    actions = list(ConsoleAuditEntry.objects.filter(tenant=gamma).values_list("action", flat=True))
    assert actions[:2] == ["export_downloaded", "closing_started"]


def test_after_the_grace_period_the_schema_files_and_domains_are_deleted(
    console, gamma, clock, django_capture_on_commit_callbacks
):
    closing = _close(console, gamma, django_capture_on_commit_callbacks)
    with tenant_context(closing):
        export_path = ClinicExport.objects.get().path
        assert default_storage.exists(export_path)

    clock.shift(timedelta(days=29))
    assert tenants_close_due_task.delay().get() == []
    clock.shift(timedelta(days=1, minutes=1))
    assert tenants_close_due_task.delay().get() == ["gamma"]

    assert not schema_exists("gamma")
    assert not Domain.objects.filter(tenant_id=gamma.pk).exists()
    assert not Tenant.objects.filter(pk=gamma.pk).exists()  # gone from every loop over clinics
    tombstone = Tenant.everything.get(pk=gamma.pk)
    assert tombstone.status == Tenant.Status.DELETED
    entry = ConsoleAuditEntry.objects.get(tenant=gamma, action="tenant_deleted")
    assert entry.detail["schema"] == "gamma"
    assert entry.detail["counts"]["contacts"] == 3
    assert entry.detail["counts"]["files"] >= 1
    assert entry.detail["domains"] == [gamma.primary_host]
    with tenant_context(tombstone):
        assert not default_storage.exists(export_path)
    login(console, "ops@carebridge.test")  # a month idle ended the session
    page = console.get("/console/")
    assert page.status_code == 200
    assert "gamma" not in {t.schema_name for t in page.context["tenants"]}


def test_closing_cancelled_in_the_grace_period_keeps_everything(
    console, gamma, clock, django_capture_on_commit_callbacks
):
    _close(console, gamma, django_capture_on_commit_callbacks)

    assert console.post(f"/console/tenants/{gamma.pk}/close/cancel/").status_code == 302
    clock.shift(timedelta(days=31))
    assert tenants_close_due_task.delay().get() == []

    tenant = Tenant.objects.get(pk=gamma.pk)
    assert (tenant.status, tenant.closing_at, tenant.delete_after) == ("suspended", None, None)
    assert schema_exists("gamma")
    assert ConsoleAuditEntry.objects.filter(tenant=gamma, action="closing_cancelled").exists()


def test_only_vendor_staff_close_a_clinic(client_a, admin_a, tenant_a):
    login(client_a, "admin@alpha.test")

    response = client_a.post(f"/console/tenants/{tenant_a.pk}/close/")

    assert response.status_code == 404  # the console is not served on a clinic's host
    assert Tenant.objects.get(pk=tenant_a.pk).delete_after is None


def test_a_clinic_already_closing_is_not_closed_twice(
    console, gamma, django_capture_on_commit_callbacks
):
    first = _close(console, gamma, django_capture_on_commit_callbacks)
    in_english(console)

    response = console.post(f"/console/tenants/{gamma.pk}/close/", follow=True)

    assert "This clinic is already closing." in response.content.decode()
    assert Tenant.objects.get(pk=gamma.pk).delete_after == first.delete_after


def test_deleting_a_clinic_empties_its_prefix_in_an_s3_bucket(
    bucket, console, gamma, clock, django_capture_on_commit_callbacks
):
    _close(console, gamma, django_capture_on_commit_callbacks)
    assert [key.split("/")[0] for key in s3_keys(bucket)] == ["gamma"]  # its export

    clock.shift(timedelta(days=31))
    tenants_close_due_task.delay().get()

    assert s3_keys(bucket) == []
