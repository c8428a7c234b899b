"""Log lines: one JSON object each, naming the request, the clinic's schema and the user by
id, and never a patient's name or number (DESIGN.md §9)."""

import io
import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from pythonjsonlogger.json import JsonFormatter

from crm.models import FollowUpRule, FollowUpTask
from crm.services.planning import encounters_plan
from saas.logs import ContextFilter
from tests.conftest import login
from tests.factories import ContactFactory, EncounterFactory, RuleFactory, StaffFactory

ROOT = Path(__file__).resolve().parent.parent.parent
PATIENT = "欧阳娜娜"
PHONE = "+8613912345678"


@pytest.fixture
def log_lines():
    """Every record of every logger, formatted as production formats them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    options = {k: v for k, v in settings.LOGGING["formatters"]["json"].items() if k != "()"}
    handler.setFormatter(JsonFormatter(**options))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    before = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(before)


@pytest.fixture
def call(tenant_a, in_tenant):
    """An agent of alpha and a due follow-up of a patient with a name and a number."""
    tenant_a.calling_hours = [["00:00", "24:00"]]
    tenant_a.save()
    with in_tenant(tenant_a):
        agent = StaffFactory(email="logged@alpha.test", role="agent")
        FollowUpRule.objects.update(active=False)
        RuleFactory(steps=[{"offset_days": 0, "due_days": 2}])
        encounter = EncounterFactory(
            contact=ContactFactory(name=PATIENT, phone=PHONE),
            occurred_at=timezone.now() - timedelta(days=1),
        )
        encounters_plan([encounter.pk])
        task = FollowUpTask.objects.get(encounter=encounter)
        phone = task.contact.phones.get()
    return agent, task, phone


def test_a_call_is_logged_by_ids_without_the_patients_name_or_number(tenant_a, call, log_lines):
    agent, task, phone = call
    client = Client(HTTP_HOST=tenant_a.primary_host, HTTP_X_REQUEST_ID="probe-123")
    login(client, agent.email)

    searched = client.get("/worklist/", {"q": PATIENT})
    page = client.get(f"/tasks/{task.pk}/")
    revealed = client.post(f"/tasks/{task.pk}/call/{phone.pk}/")

    assert PATIENT in page.content.decode() and PHONE in revealed.content.decode()
    assert searched["X-Request-ID"] == "probe-123"
    lines = log_lines()
    text = json.dumps(lines, ensure_ascii=False)
    for secret in (PATIENT, PHONE, PHONE[3:], "12345678"):
        assert secret not in text
    access = [line for line in lines if line["logger"] == "carebridge.request"]
    assert [(line["method"], line["route"], line["status"]) for line in access][-3:] == [
        ("GET", "worklist/", 200),
        ("GET", "tasks/<int:task_id>/", 200),
        ("POST", "tasks/<int:task_id>/call/<int:phone_id>/", 200),
    ]
    assert {(line["tenant"], line["user_id"], line["request_id"]) for line in access[-3:]} == {
        ("alpha", agent.pk, "probe-123")
    }


def test_a_request_without_an_id_gets_one_and_a_forged_one_is_replaced(tenant_a, log_lines):
    plain = Client(HTTP_HOST=tenant_a.primary_host).get("/accounts/login/")
    forged = Client(HTTP_HOST=tenant_a.primary_host, HTTP_X_REQUEST_ID='x"\n{"level":"ok"}').get(
        "/accounts/login/"
    )

    assert len(plain["X-Request-ID"]) == 32
    assert len(forged["X-Request-ID"]) == 32 and forged["X-Request-ID"] != plain["X-Request-ID"]
    access = [line for line in log_lines() if line["logger"] == "carebridge.request"]
    ids = [plain["X-Request-ID"], forged["X-Request-ID"]]
    assert [line["request_id"] for line in access] == ids
    assert {line["user_id"] for line in access} == {None}


def test_an_error_record_names_the_path_without_the_query_string(tenant_a, log_lines):
    client = Client(HTTP_HOST=tenant_a.primary_host)

    response = client.get("/tasks/999999/", {"q": PATIENT})

    assert response.status_code in (302, 404)
    missing = client.get("/no-such-page/", {"q": PATIENT})
    assert missing.status_code == 404
    lines = log_lines()
    [warning] = [line for line in lines if line["logger"] == "django.request"]
    assert warning["request"] == "GET /no-such-page/"
    assert PATIENT not in json.dumps(lines, ensure_ascii=False)
    assert "%E6" not in json.dumps(lines)  # nor percent-encoded


def test_production_writes_one_json_object_a_line():
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DJANGO_ALLOW_ASYNC_UNSAFE",)},
        "DJANGO_SETTINGS_MODULE": "saas.settings.production",
        "SECRET_KEY": "x" * 50,
        "EMAIL_URL": "console://",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "FIELD_ENCRYPTION_KEYS": "cHJvZHVjdGlvbi10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=",
        "BASE_DOMAIN": "followup.example",
    }
    env.pop("LOG_FORMAT", None)
    script = "import logging; logging.getLogger('carebridge.probe').warning('tick %s', 5)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    [line] = [json.loads(text) for text in result.stderr.splitlines() if "carebridge.probe" in text]
    assert {k: line[k] for k in ("level", "logger", "message", "tenant", "request_id")} == {
        "level": "WARNING",
        "logger": "carebridge.probe",
        "message": "tick 5",
        "tenant": "public",
        "request_id": None,
    }


def test_the_tokens_of_secret_links_in_a_log_record_are_masked():
    import logging

    from saas.logs import ContextFilter

    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Not Found: %s %s %s",
        (
            "/s/AbC123.x-y/stop/",
            "/accounts/reset/MTI/c4x-0f9e/",
            "/health/e/tok9/",
        ),
        None,
    )
    ContextFilter().filter(record)

    assert record.getMessage() == (
        "Not Found: /s/••••/stop/ /accounts/reset/MTI/••••/ /health/e/••••/"
    )
