"""The processes the image runs, run natively and together (no container runtime here):
PgBouncer (Debian's) in session mode in front of PostgreSQL, gunicorn with 3 workers from
deploy/gunicorn.conf.py, 2 Celery workers and beat on a Redis of their own, media in an S3
server (moto) — with production settings (tests/stack/settings_stack.py: plain HTTP on
loopback). Driven over real HTTP as a clinic and its hospital information system would."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg2
import pytest
import requests
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from tests.cms.conftest import png_bytes
from tests.fake_s3 import ACCESS_KEY, REGION, SECRET_KEY, bucket_create, s3_server

pytestmark = [pytest.mark.stack, pytest.mark.real_clock, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parent.parent.parent
DATABASE = f"cb_stack_{os.getpid()}"  # one of its own, should two runs share a server
SLUG = "stack"
HOST = f"{SLUG}.localhost"
PASSWORD = "Stack-test-pass-2026"
PATIENT, PHONE = "欧阳娜娜", "13912345678"
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
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
            name: free_port() for name in ("pgbouncer", "redis", "web", "worker1", "worker2")
        }
        self.web = f"http://127.0.0.1:{self.ports['web']}"

    def start(self, name: str, command: list[str], env: dict | None = None):
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )

    def stop_all(self):
        for name in list(self.processes):
            self.stop(name)

    def stop(self, name: str):
        process = self.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

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
    db = connection.settings_dict
    pg = {"host": db["HOST"] or "127.0.0.1", "port": db["PORT"] or 5432, "user": db["USER"]}
    admin = psycopg2.connect(dbname="postgres", **pg)
    admin.autocommit = True
    cleanup.callback(admin.close)
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {DATABASE}")
    cleanup.callback(database_drop, admin)
    cleanup.callback(stack.stop_all)  # runs first: the processes go before their database

    (folder / "userlist.txt").write_text(f'"{pg["user"]}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n{DATABASE} = host={pg['host']} port={pg['port']} dbname={DATABASE}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {stack.ports['pgbouncer']}\n"
        f"auth_type = trust\nauth_file = {folder / 'userlist.txt'}\n"
        "pool_mode = session\nmax_client_conn = 200\ndefault_pool_size = 30\n"
        "server_reset_query = DISCARD ALL\nignore_startup_parameters = extra_float_digits,options\n"
        f"unix_socket_dir =\n"
    )
    for name in ("userlist.txt", "pgbouncer.ini"):
        (folder / name).chmod(0o644)
    stack.pgbouncer_start()
    stack.redis_start()
    s3 = cleanup.enter_context(s3_server())
    stack.bucket = bucket_create(s3, "carebridge-stack")

    (folder / "secret_key").write_text("stack-" + "k" * 60)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CAREBRIDGE_"))},
        "DJANGO_SETTINGS_MODULE": "tests.stack.settings_stack",
        "SECRET_KEY_FILE": str(folder / "secret_key"),
        "DATABASE_URL": f"postgres://{pg['user']}@127.0.0.1:{stack.ports['pgbouncer']}/{DATABASE}",
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
        "TENANT_URL_SCHEME": "http",
        "LOG_FORMAT": "json",
        "PORT": str(stack.ports["web"]),
        "WEB_CONCURRENCY": "3",
        "METRICS_TOKEN": METRICS_TOKEN,
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
        f"with schema_context('{SLUG}'):\n"
        "    admin = get_user_model().objects.get(email='admin@stack.test')\n"
        f"    admin.set_password('{PASSWORD}'); admin.save()\n",
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
    wait_until(lambda: requests.get(f"{stack.web}/readyz", timeout=5).ok, 60, "/readyz")
    yield stack


def database_drop(admin) -> None:
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def session(stack) -> requests.Session:
    browser = requests.Session()
    browser.headers["Host"] = HOST
    return browser


def signed_in(stack) -> requests.Session:
    browser = session(stack)
    browser.get(f"{stack.web}/accounts/login/", timeout=10)
    response = browser.post(
        f"{stack.web}/accounts/login/",
        data={
            "username": "admin@stack.test",
            "password": PASSWORD,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
        headers={"Referer": f"http://{HOST}/accounts/login/"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text[:500]
    return browser


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


def test_an_image_goes_to_s3_and_comes_back_through_the_clinics_url(stack):
    admin = signed_in(stack)
    content = png_bytes()
    form = admin.get(f"{stack.web}/cms/admin/images/add/", timeout=10)
    assert form.status_code == 200

    added = admin.post(
        f"{stack.web}/cms/admin/images/add/",
        data={
            "title": "整栈 X 光",
            "collection": "1",
            "csrfmiddlewaretoken": admin.cookies["csrftoken"],
        },
        files={"file": ("xray.png", content, "image/png")},
        headers={"Referer": f"http://{HOST}/cms/admin/images/add/"},
        allow_redirects=False,
        timeout=30,
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
    for secret in (PATIENT, PHONE, PHONE[-8:], "二号病人"):
        assert secret not in text
