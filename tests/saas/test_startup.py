"""A misconfigured deployment stops at start with one clear line (saas/startup.py), rather
than failing on its first request or task."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from saas.startup import startup_problems
from tests.fake_s3 import bucket_create, media_storage, s3_server

ROOT = Path(__file__).resolve().parent.parent.parent
NOWHERE = "postgres://postgres@127.0.0.1:1/carebridge"  # nothing listens on port 1


def production_env(**overrides) -> dict:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CAREBRIDGE_"))},
        "DJANGO_SETTINGS_MODULE": "saas.settings.production",
        "SECRET_KEY": "s" * 50,
        "EMAIL_URL": "console://",
        "BASE_DOMAIN": "followup.example",
        "CELERY_BROKER_URL": "memory://",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "FIELD_ENCRYPTION_KEYS": "cHJvZHVjdGlvbi10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(command: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_web_refuses_to_start_without_its_database():
    env = production_env(DATABASE_URL=NOWHERE, PORT=str(free_port()), WEB_CONCURRENCY="1")

    result = run(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "saas.wsgi"], env
    )

    assert result.returncode != 0
    [line] = [line for line in result.stderr.splitlines() if "CareBridge cannot start" in line]
    assert "DATABASE_URL: the database at 127.0.0.1:1 does not answer" in line


def test_a_worker_refuses_to_start_without_its_database():
    env = production_env(DATABASE_URL=NOWHERE)

    result = run([sys.executable, "-m", "celery", "-A", "saas", "worker", "--pool", "solo"], env)

    assert result.returncode != 0
    assert "CareBridge cannot start: DATABASE_URL: the database at 127.0.0.1:1" in (
        result.stdout + result.stderr
    )


@pytest.mark.parametrize("variable", ["BASE_DOMAIN", "REDIS_URL", "FIELD_ENCRYPTION_KEYS"])
def test_production_refuses_to_start_without_a_required_variable(variable):
    result = run([sys.executable, "manage.py", "check"], production_env(**{variable: None}))

    assert result.returncode != 0
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith(f"Environment variable {variable} is required.")
    )


@pytest.fixture
def s3_url():
    with s3_server() as url:
        yield url


def test_a_media_bucket_that_cannot_be_reached_is_named(db, settings, s3_url):
    bucket_create(s3_url, "media-here")
    settings.MEDIA_S3_BUCKET = "media-missing"
    settings.STORAGES = {**settings.STORAGES, "default": media_storage(s3_url, "media-missing")}

    [problem] = startup_problems()

    assert problem.startswith("MEDIA_S3_BUCKET: the bucket media-missing cannot be reached (")
    settings.MEDIA_S3_BUCKET = "media-here"
    settings.STORAGES["default"]["OPTIONS"]["bucket_name"] = "media-here"
    assert startup_problems() == []
