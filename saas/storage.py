"""Uploaded media (Wagtail images and documents) in an S3-compatible bucket, for deployments
with more than one web node. ``MEDIA_S3_BUCKET`` turns it on; local runs keep the disk
(``TenantFileSystemStorage``).

Each clinic's files live under its schema (``alpha/original_images/x.png``), as on disk, so
a folder copied from ``MEDIA_ROOT`` is the bucket's layout. The bucket stays private: a file's
URL is our own per-tenant media view (``/media/<schema>/…``, ``cms.views.media_serve``),
which checks the clinic and streams the object, never a public or pre-signed bucket URL (those
would outlive a cached page or leak across clinics)."""

import posixpath

from django.conf import settings
from django.db import connection
from django.utils.encoding import filepath_to_uri
from storages.backends.s3 import S3Storage


class TenantS3Storage(S3Storage):
    default_acl = None  # the bucket's own (private) policy; never public-read

    @property
    def location(self) -> str:
        return posixpath.join(self._base_location, connection.schema_name)

    @location.setter
    def location(self, value: str) -> None:
        # S3Storage sets its options as attributes; AWS_LOCATION, if any, prefixes every schema.
        self._base_location = value or ""

    def url(self, name, parameters=None, expire=None, http_method=None) -> str:
        return f"{settings.MEDIA_URL}{connection.schema_name}/{filepath_to_uri(name)}"
