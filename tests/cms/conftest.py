import io
import shutil

import pytest
from django.core.cache import cache

from tests.conftest import login


@pytest.fixture(scope="session", autouse=True)
def _empty_media_folder(django_db_setup):
    """Uploads of an earlier run would make Wagtail rename this run's files."""
    from django.conf import settings

    shutil.rmtree(settings.MEDIA_ROOT, ignore_errors=True)


@pytest.fixture(autouse=True)
def _empty_page_cache():
    """Cached pages of one test must not answer the next one's requests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def admin_client_a(client_a, admin_a):
    login(client_a, "admin@alpha.test")
    return client_a


@pytest.fixture
def admin_client_b(client_b, admin_b):
    login(client_b, "admin@beta.test")
    return client_b


def png_bytes(colour=(200, 30, 30)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, format="PNG")
    return buffer.getvalue()
