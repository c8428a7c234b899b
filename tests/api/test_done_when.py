"""Issue 6's "done when", over real HTTP: an HIS integrator reads the OpenAPI docs, gets a key
from the management command, pushes yesterday's discharges with curl, a call-centre system
logs a reached call with its survey answers, the integrator reads back the completed
follow-up, and a signed webhook reaches a receiver on 127.0.0.1 when the dissatisfied answers
raise a complaint.

The app is served by the e2e tests' live server (committed data only), in a clinic of its
own, provisioned for this module and dropped afterwards. Requests go to 127.0.0.1 with the
clinic's Host header (``curl -H "Host: …"``): *.localhost names need not resolve here."""

import io
import json
import os
import re
import subprocess
import time
from datetime import timedelta

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone
from django_tenants.utils import tenant_context
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from crm.api.app import CURL_PUSH
from crm.models import OutcomeCode
from crm.services import webhooks
from tenants.services import tenant_provision
from tests.conftest import authenticator_of, committed, committed_tenant
from tests.e2e.conftest import live_port  # noqa: F401  (the e2e tests' live server)
from tests.factories import PASSWORD, StaffFactory, authenticator_add, totp_code

pytestmark = pytest.mark.django_db

SLUG = "e2e-api"
ADMIN = "admin@e2e-api.test"
AGENT = "cti@e2e-api.test"


@pytest.fixture(scope="module")
def clinic(django_db_setup, django_db_blocker):
    def create():
        tenant = tenant_provision(
            name="E2E 接口医院", slug=SLUG, kind="hospital", admin_email=ADMIN
        ).tenant
        with tenant_context(tenant):
            from django.contrib.auth import get_user_model

            admin = get_user_model().objects.get(email=ADMIN)
            admin.set_password(PASSWORD)
            admin.save()
            authenticator_add(admin)  # an administrator signs in with a second step
            StaffFactory(email=AGENT, role="agent", first_name="呼叫", last_name="中心")
        return tenant

    yield from committed_tenant(django_db_blocker, create)


class Http:
    """requests on the live server with the clinic's Host header, like curl -H "Host: …"."""

    def __init__(self, port: int, host: str, key: str | None = None):
        self.base = f"http://127.0.0.1:{port}"
        self.session = requests.Session()
        self.session.headers["Host"] = f"{host}:{port}"
        if key:
            self.session.headers["Authorization"] = f"Bearer {key}"

    def get(self, path, **params):
        return self.session.get(self.base + path, params=params, timeout=30)

    def post(self, path, **kwargs):
        return self.session.post(self.base + path, timeout=30, allow_redirects=False, **kwargs)


def curl_push(port: int, host: str, key: str, body: dict, folder) -> tuple[int, dict]:
    """The push exactly as the API's docs show it (crm.api.app.CURL_PUSH): curl resolves
    *.localhost names to this machine itself."""
    (folder / "discharges.json").write_text(json.dumps(body, ensure_ascii=False))
    done = subprocess.run(
        ["bash", "-c", CURL_PUSH + ' -w "\\n%{http_code}"'],
        cwd=folder,
        env={**os.environ, "CAREBRIDGE_URL": f"http://{host}:{port}", "CAREBRIDGE_API_KEY": key},
        capture_output=True,
        check=True,
        timeout=60,
    )
    text, _, status = done.stdout.decode().rpartition("\n")
    return int(status), json.loads(text)


def api_key_from_command() -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "api_key_create",
        *("--schema", SLUG, "--name", "HIS nightly push", "--scopes", "read,write"),
        stdout=out,
        stderr=err,
    )
    return out.getvalue().strip()


def webhook_registered_by_admin(port, host, url) -> str:
    """The administrator signs in and registers the receiver for complaints; the signing
    secret is read off the page, where it is shown once."""
    browser = Http(port, host)
    browser.get("/accounts/login/")
    token = browser.session.cookies["csrftoken"]
    signed_in = browser.post(
        "/accounts/login/",
        data={"username": ADMIN, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )
    assert signed_in.status_code == 302, signed_in.text[:500]
    signed_in = browser.post(
        signed_in.headers["Location"],
        data={
            "code": totp_code(authenticator_of(host, ADMIN)),
            "csrfmiddlewaretoken": browser.session.cookies["csrftoken"],
        },
    )
    assert signed_in.status_code == 302, signed_in.text[:500]
    page = browser.post(
        "/settings/webhooks/",
        data={
            "url": url,
            "events": ["complaint.created"],
            "csrfmiddlewaretoken": browser.session.cookies["csrftoken"],
        },
    )
    assert page.status_code == 200
    return re.search(r"whsec_[A-Za-z0-9+/=]+", page.text).group(0)


def signature_verified(secret: str, headers, body: bytes) -> bool:
    """What the integrator's receiver does: an off-the-shelf Standard Webhooks verifier, which
    also refuses a timestamp more than five minutes away (a replayed delivery)."""
    try:
        Webhook(secret).verify(body, dict(headers.items()))
    except WebhookVerificationError:
        return False
    return True


def answers_for(survey: dict) -> dict:
    """A dissatisfied caller: the lowest value for each required question, as an integrator's
    program would build it from GET /tasks/{id}/survey."""
    lowest = {
        "rating": lambda q: q["min"],
        "nps": lambda q: q["min"],
        "yes_no": lambda q: False,
        "single": lambda q: q["choices"][0]["value"],
        "multiple": lambda q: [q["choices"][0]["value"]],
        "text": lambda q: "",
        "staff": lambda q: q["choices"][0]["value"],
    }
    return {q["key"]: lowest[q["kind"]](q) for q in survey["questions"] if q["required"]}


def test_an_his_integrator_pushes_discharges_and_gets_the_results_and_a_signed_webhook(
    clinic,
    live_port,  # noqa: F811  (the fixture imported above)
    receiver,
    settings,
    tmp_path,
):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the receiver listens on 127.0.0.1
    host = clinic.primary_host
    started = timezone.now() - timedelta(seconds=1)

    # The docs and the schema are on the clinic's domain.
    anonymous = Http(live_port, host)
    assert anonymous.get("/api/v1/docs").status_code == 200
    schema = anonymous.get("/api/v1/openapi.json").json()
    assert {"/api/v1/encounters/bulk", "/api/v1/tasks/{task_id}/survey"} <= set(schema["paths"])
    assert "answers" in json.dumps(schema["components"]["schemas"]["AttemptIn"])

    key = committed(api_key_from_command)
    assert key.startswith("cb_")
    secret = webhook_registered_by_admin(live_port, host, receiver.url)
    his = Http(live_port, host, key)

    # Yesterday's discharges, as the HIS pushes them every night.
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    rows = [
        {"external_id": "ZY2026-001", "name": "张伟", "occurred_at": f"{yesterday} 10:30",
         "kind": "discharge", "phone": "13800138001", "department": "骨科"},
        {"external_id": "ZY2026-002", "name": "王芳", "occurred_at": f"{yesterday} 15:00",
         "kind": "discharge", "phone": "13800138002", "department": "产科"},
        {"external_id": "ZY2026-003", "name": "刘洋", "occurred_at": f"{yesterday} 16:00",
         "kind": "discharge", "phone": "12345"},
    ]  # fmt: skip
    status, pushed = curl_push(live_port, host, key, {"source": "his", "rows": rows}, tmp_path)
    assert status == 200, pushed
    assert (pushed["created"], pushed["rejected"]) == (2, 1)
    assert [(e["index"], e["field"]) for e in pushed["errors"]] == [(2, "phone")]

    # The call-centre system finds the follow-up, reads its survey and logs the call.
    tasks = his.get("/api/v1/tasks", source="his", external_id="ZY2026-001").json()["items"]
    assert [t["status"] for t in tasks] == ["pending"]
    task_id = tasks[0]["id"]
    survey = his.get(f"/api/v1/tasks/{task_id}/survey")
    assert survey.status_code == 200
    with tenant_context(clinic):
        reached = OutcomeCode.objects.filter(category="reached").first().code
    logged = his.post(
        f"/api/v1/tasks/{task_id}/attempts",
        json={
            "outcome": reached,
            "agent": AGENT,
            "duration_seconds": 240,
            "notes": "伤口恢复可以，对护理不满意",
            "answers": answers_for(survey.json()),
        },
    )
    assert logged.status_code == 201, logged.text
    response_id = logged.json()["survey_response_id"]
    assert response_id

    # The integrator reads back what was completed since the push.
    completed = his.get(
        "/api/v1/tasks", status="completed", updated_since=started.isoformat()
    ).json()["items"]
    assert [(t["id"], t["external_id"], t["last_outcome"]) for t in completed] == [
        (task_id, "ZY2026-001", "reached")
    ]
    responses = his.get("/api/v1/survey-responses", task_id=task_id).json()["items"]
    assert [(r["id"], r["satisfaction"]) for r in responses] == [(response_id, "dissatisfied")]
    [complaint] = his.get("/api/v1/complaints").json()["items"]
    assert complaint["task_id"] == task_id

    # The dissatisfied answers raised a complaint: its webhook arrived, signed.
    deadline = time.monotonic() + 10
    while not receiver.received and time.monotonic() < deadline:
        time.sleep(0.05)
    [delivery] = receiver.received
    headers, body = delivery["headers"], delivery["body"]
    assert signature_verified(secret, headers, body)
    assert not signature_verified(webhooks.secret_new(), headers, body)
    event = json.loads(body)
    assert (event["type"], headers["Carebridge-Event"]) == ("complaint.created",) * 2
    assert (event["data"]["complaint_id"], event["data"]["task_id"]) == (complaint["id"], task_id)
    assert "张伟" not in body.decode()
