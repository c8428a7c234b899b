"""Uploaded media in an S3-compatible bucket (MEDIA_S3_BUCKET): a real S3 API over HTTP on
127.0.0.1 (moto in server mode). Each clinic's files under its schema, a private bucket, and
the same per-tenant URLs as on disk."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from wagtail.documents.models import Document
from wagtail.images.models import Image

from tests.fake_s3 import bucket_create, media_storage, s3_server

from .conftest import png_bytes

BUCKET = "carebridge-media-test"


@pytest.fixture(scope="module")
def endpoint():
    with s3_server() as url:
        yield url


@pytest.fixture
def bucket(endpoint, settings):
    """An empty private bucket, and the media storage pointed at it."""
    created = bucket_create(endpoint, BUCKET)
    settings.STORAGES = {**settings.STORAGES, "default": media_storage(endpoint, BUCKET)}
    yield created
    created.objects.all().delete()
    created.delete()


def keys(bucket) -> list[str]:
    return sorted(item.key for item in bucket.objects.all())


def test_an_image_goes_to_the_clinics_folder_of_a_private_bucket_and_is_served_per_tenant(
    bucket, admin_client_b, client_a, client_b, tenant_b, in_tenant, settings
):
    content = png_bytes()
    response = admin_client_b.post(
        "/cms/admin/images/add/",
        {
            "title": "Beta X-ray in S3",
            "file": SimpleUploadedFile("s3-xray.png", content, content_type="image/png"),
            "collection": 1,
        },
    )
    assert response.status_code == 302
    with in_tenant(tenant_b):
        image = Image.objects.get(title="Beta X-ray in S3")
        url = image.file.url
        rendition = image.get_rendition("width-20")
        rendition_url = rendition.url

    assert keys(bucket) == [
        f"beta/{rendition.file.name}",
        f"beta/{image.file.name}",
    ]
    assert image.file.name.startswith("original_images/s3-xray")
    assert not (settings.MEDIA_ROOT / "beta" / image.file.name).exists()
    assert url == f"/media/beta/{image.file.name}"
    served = client_b.get(url)
    assert served.status_code == 200
    assert b"".join(served.streaming_content) == content
    assert client_b.get(rendition_url).status_code == 200
    assert client_a.get(url).status_code == 404
    assert client_a.get(url.replace("/media/beta/", "/media/alpha/")).status_code == 404
    for key in keys(bucket):
        grants = bucket.Object(key).Acl().grants
        assert not [g for g in grants if g["Grantee"].get("URI", "").endswith("/AllUsers")]


def test_a_document_is_stored_in_the_bucket_and_served_only_through_wagtail(
    bucket, admin_client_b, client_a, client_b, tenant_b, in_tenant
):
    response = admin_client_b.post(
        "/cms/admin/documents/add/",
        {
            "title": "Beta leaflet in S3",
            "file": SimpleUploadedFile("leaflet.txt", "Beta 的宣教单".encode(), "text/plain"),
            "collection": 1,
        },
    )
    assert response.status_code == 302
    with in_tenant(tenant_b):
        document = Document.objects.get(title="Beta leaflet in S3")

    assert keys(bucket) == [f"beta/{document.file.name}"]
    on_b = client_b.get(document.url)
    assert on_b.status_code == 200
    assert b"".join(on_b.streaming_content).decode() == "Beta 的宣教单"
    assert client_a.get(document.url).status_code == 404
    assert client_b.get(f"/media/beta/{document.file.name}").status_code == 404
