"""The clinic's full export (issue 18, item 11): a ZIP of a CSV per table, a manifest and the
clinic's media, built by a worker, downloaded by the clinic's administrators for 7 days."""

import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from wagtail.images.models import Image

from crm.models import AuditEntry, ClinicExport
from crm.services.followup import followup_tick
from tests.cms import test_media_s3
from tests.cms.conftest import png_bytes
from tests.conftest import login
from tests.crm.conftest import in_english
from tests.factories import ContactFactory, EncounterFactory

pytestmark = pytest.mark.now("2026-11-24 09:00")

# The S3 media tests' bucket (moto over HTTP) and its listing.
endpoint, bucket, s3_keys = test_media_s3.endpoint, test_media_s3.bucket, test_media_s3.keys


def _export(client, django_capture_on_commit_callbacks) -> ClinicExport:
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/exports/").status_code == 302
    return client.get("/exports/").context["exports"][0]


def _csv(archive: zipfile.ZipFile, name: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig"))))


def test_an_administrator_exports_everything_and_reads_it_back(
    admin_client_a, admin_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    with in_tenant(tenant_a):
        contact = ContactFactory(name="=HYPERLINK(1)", record_no="ZY777")
        EncounterFactory(contact=contact, diagnosis="股骨颈骨折")
        Image.objects.create(title="logo", file=ContentFile(png_bytes(), name="logo.png"))
        image_name = Image.objects.get(title="logo").file.name

    export = _export(admin_client_a, django_capture_on_commit_callbacks)
    response = admin_client_a.get(f"/exports/{export.pk}/download/")

    assert export.status == ClinicExport.Status.READY
    assert export.path.startswith("exports/") and export.path.endswith(".zip")
    assert export.expires_at == export.finished_at + timedelta(days=7)
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["schema_version"] == 1
    assert manifest["clinic"]["schema"] == "alpha"
    assert manifest["media"] == {"files": 1, "missing": []}
    contacts = _csv(archive, "contacts.csv")
    assert manifest["counts"]["contacts"] == len(contacts)
    row = next(r for r in contacts if r["record_no"] == "ZY777")
    assert row["name"] == "'=HYPERLINK(1)"  # through SafeCsvWriter
    encounters = _csv(archive, "encounters.csv")
    assert [e["diagnosis"] for e in encounters if e["contact_id"] == str(contact.pk)] == [
        "股骨颈骨折"
    ]
    staff = _csv(archive, "staff.csv")
    assert "password" not in staff[0]
    assert "admin@alpha.test" in {s["email"] for s in staff}
    assert archive.read(f"media/{image_name}") == png_bytes()
    with in_tenant(tenant_a):
        entry = AuditEntry.objects.get(action=AuditEntry.Action.CLINIC_EXPORTED)
        assert (entry.actor_id, entry.object_id) == (admin_a.pk, str(export.pk))


def test_the_export_is_not_served_as_media(
    admin_client_a, tenant_a, django_capture_on_commit_callbacks
):
    export = _export(admin_client_a, django_capture_on_commit_callbacks)

    assert admin_client_a.get(f"/media/alpha/{export.path}").status_code == 404


def test_another_clinic_and_non_administrators_cannot_download_it(
    admin_client_a, admin_client_b, agent_a, client_a, tenant_a, in_tenant,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    export = _export(admin_client_a, django_capture_on_commit_callbacks)
    admin_client_a.logout()
    login(client_a, "agent@alpha.test")

    as_other_clinic = admin_client_b.get(f"/exports/{export.pk}/download/")
    as_agent = client_a.get(f"/exports/{export.pk}/download/")
    agent_list = client_a.get("/exports/")

    assert (as_other_clinic.status_code, as_agent.status_code) == (404, 403)
    assert agent_list.status_code == 403
    with in_tenant(tenant_a):
        assert not AuditEntry.objects.filter(action=AuditEntry.Action.CLINIC_EXPORTED).exists()


def test_a_second_request_while_one_is_prepared_is_refused(admin_client_a, tenant_a, in_tenant):
    in_english(admin_client_a)
    admin_client_a.post("/exports/")  # not run: its transaction never commits in this test

    response = admin_client_a.post("/exports/", follow=True)

    assert "An export is already being prepared" in response.content.decode()
    with in_tenant(tenant_a):
        assert ClinicExport.objects.count() == 1


def test_the_export_is_deleted_after_7_days(
    admin_client_a, tenant_a, in_tenant, clock, django_capture_on_commit_callbacks
):
    export = _export(admin_client_a, django_capture_on_commit_callbacks)
    clock.shift(timedelta(days=7, hours=1))

    with in_tenant(tenant_a):
        assert followup_tick().exports_deleted == 1
        assert not default_storage.exists(export.path)
        export.refresh_from_db()
    login(admin_client_a, "admin@alpha.test")  # a week idle ended the session
    in_english(admin_client_a)
    response = admin_client_a.get(f"/exports/{export.pk}/download/", follow=True)

    assert (export.status, export.path) == (ClinicExport.Status.EXPIRED, "")
    assert "This export is no longer available." in response.content.decode()


def test_the_export_works_with_media_in_an_s3_bucket(
    bucket, admin_client_a, tenant_a, in_tenant, django_capture_on_commit_callbacks
):
    with in_tenant(tenant_a):
        Image.objects.create(title="scan", file=ContentFile(png_bytes(), name="scan.png"))
        image_name = Image.objects.get(title="scan").file.name

    export = _export(admin_client_a, django_capture_on_commit_callbacks)
    response = admin_client_a.get(f"/exports/{export.pk}/download/")

    assert f"alpha/{export.path}" in s3_keys(bucket)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.read(f"media/{image_name}") == png_bytes()
    assert json.loads(archive.read("manifest.json"))["media"] == {"files": 1, "missing": []}
