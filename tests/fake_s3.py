"""An S3-compatible server on 127.0.0.1 for the media tests: moto in server mode, real HTTP,
the real S3 API (boto3 and django-storages talk to it as to any bucket)."""

from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from moto.server import ThreadedMotoServer

REGION = "us-east-1"
ACCESS_KEY, SECRET_KEY = "testing", "testing"


@contextmanager
def s3_server() -> Iterator[str]:
    """The server's endpoint URL while the block runs."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield "http://{}:{}".format(*server.get_host_and_port())
    finally:
        server.stop()


def bucket_create(endpoint: str, name: str):
    s3 = boto3.resource(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    return s3.create_bucket(Bucket=name)


def media_storage(endpoint: str, bucket: str) -> dict:
    """The STORAGES["default"] entry that MEDIA_S3_BUCKET and friends make (saas/settings)."""
    return {
        "BACKEND": "saas.storage.TenantS3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "region_name": REGION,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "addressing_style": "path",
            "file_overwrite": False,
        },
    }
