import pytest

from tests.billing.conftest import account_a, plans  # noqa: F401  (billing's, used here)
from tests.conftest import login


@pytest.fixture
def admin_client_a(client_a, admin_a):
    login(client_a, "admin@alpha.test")
    return client_a


@pytest.fixture
def agent_client_a(client_a, agent_a):
    login(client_a, "agent@alpha.test")
    return client_a


@pytest.fixture
def admin_client_b(client_b, admin_b):
    login(client_b, "admin@beta.test")
    return client_b


def in_english(client):
    """Pages in English whatever the tenant's language (as the language switcher does)."""
    from django.conf import settings

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client
