"""Checks run once when a web or worker process starts (deploy/gunicorn.conf.py,
saas/celery.py): a misconfigured deployment stops at once with one clear line instead of
failing on its first request or task."""

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.storage import storages
from django.db import DatabaseError, connections


def startup_problems() -> list[str]:
    """What would make every request or task fail: the database unreachable, the media
    bucket unreachable or refused. Empty when the process may start."""
    problems = []
    database = connections["default"].settings_dict
    try:
        with connections["default"].temporary_connection() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        where = f"{database.get('HOST') or 'localhost'}:{database.get('PORT') or 5432}"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        problems.append(f"DATABASE_URL: the database at {where} does not answer ({reason})")
    if settings.MEDIA_S3_BUCKET:
        storage = storages.create_storage(settings.STORAGES["default"])
        try:
            storage.connection.meta.client.head_bucket(Bucket=settings.MEDIA_S3_BUCKET)
        except (BotoCoreError, ClientError) as exc:
            bucket = settings.MEDIA_S3_BUCKET
            problems.append(f"MEDIA_S3_BUCKET: the bucket {bucket} cannot be reached ({exc})")
    return problems
