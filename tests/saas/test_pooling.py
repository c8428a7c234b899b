"""The pooling guard (saas/pooling.py) against Debian's real PgBouncer: transaction pooling
that does not put each clinic's search_path back is refused at start-up, by every process
(here: manage.py), with the reason; session pooling starts."""

import configparser
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings

from saas.pooling import PoolerFacts, pooler_facts, pooling_problems

ROOT = Path(__file__).resolve().parents[2]
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _pgbouncer(mode: str):
    """Debian's PgBouncer in front of the suite's PostgreSQL, in the given pool mode, with
    deploy/'s settings otherwise; yields its port."""
    if not Path(PGBOUNCER).exists():
        pytest.fail("PgBouncer is missing: ./dev test installs Debian's pgbouncer package")
    folder = Path(tempfile.mkdtemp(prefix="carebridge-pooling-"))
    folder.chmod(0o755)  # PgBouncer drops root for nobody and reads its files here
    port = _free_port()
    database = settings.DATABASES["default"]
    config = configparser.ConfigParser(inline_comment_prefixes=(";",))
    config.read(ROOT / "deploy" / "pgbouncer" / "pgbouncer.ini")
    config["databases"] = {
        "carebridge": f"host=127.0.0.1 port={database.get('PORT') or 5432} dbname=postgres"
    }
    config["pgbouncer"].update(
        listen_addr="127.0.0.1",
        listen_port=str(port),
        auth_type="trust",
        auth_file=str(folder / "userlist.txt"),
        admin_users="postgres",
        unix_socket_dir="",
        pool_mode=mode,
    )
    (folder / "userlist.txt").write_text('"postgres" ""\n')
    with open(folder / "pgbouncer.ini", "w") as ini:
        config.write(ini)
    for name in ("userlist.txt", "pgbouncer.ini"):
        (folder / name).chmod(0o644)
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    process = subprocess.Popen(
        [PGBOUNCER, *user, str(folder / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def in_transaction_mode():
    yield from _pgbouncer("transaction")


@pytest.fixture(scope="module")
def in_session_mode():
    yield from _pgbouncer("session")


def _admin(port: int) -> str:
    return f"postgres://postgres@127.0.0.1:{port}/pgbouncer"


def _manage_check(port: int, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "saas.settings.local",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{port}/carebridge",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_guard_reads_the_poolers_mode_and_version(in_transaction_mode, in_session_mode):
    assert pooler_facts(_admin(in_transaction_mode)).pool_mode == "transaction"
    facts = pooler_facts(_admin(in_session_mode))
    assert facts.pool_mode == "session"
    assert facts.version >= (1, 17, 0)


def test_transaction_pooling_that_does_not_track_search_path_is_refused_at_start(
    in_transaction_mode,
):
    result = _manage_check(
        in_transaction_mode,
        DATABASE_POOL_MODE="transaction",
        DATABASE_POOLER_ADMIN_URL=_admin(in_transaction_mode),
    )

    assert result.returncode != 0
    assert "CareBridge refuses to start" in result.stderr
    # Debian 12's PgBouncer is 1.18: too old, and search_path is not tracked.
    assert "needs 1.25.2 or newer" in result.stderr
    assert "track_extra_parameters does not include search_path" in result.stderr


def test_transaction_mode_declared_without_the_admin_console_is_refused(in_session_mode):
    result = _manage_check(in_session_mode, DATABASE_POOL_MODE="transaction")
    assert result.returncode != 0
    assert "DATABASE_POOLER_ADMIN_URL is not set" in result.stderr


def test_a_pooler_in_transaction_mode_declared_as_session_is_refused(in_transaction_mode):
    result = _manage_check(
        in_transaction_mode,
        DATABASE_POOL_MODE="session",
        DATABASE_POOLER_ADMIN_URL=_admin(in_transaction_mode),
    )
    assert result.returncode != 0
    assert "runs in transaction mode but DATABASE_POOL_MODE says session" in result.stderr


def test_session_pooling_starts(in_session_mode):
    result = _manage_check(
        in_session_mode,
        DATABASE_POOL_MODE="session",
        DATABASE_POOLER_ADMIN_URL=_admin(in_session_mode),
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_new_enough_pooler_tracking_search_path_on_postgresql_18_is_accepted():
    # What the guard accepts, from facts no machine here has (PgBouncer 1.25.2, PostgreSQL 18).
    facts = PoolerFacts(
        version=(1, 25, 2), pool_mode="transaction", tracked=frozenset({"search_path"})
    )
    assert pooling_problems(mode="transaction", facts=facts, server_version_num=180001) == []
    assert pooling_problems(mode="transaction", facts=facts, server_version_num=170005) == [
        "PostgreSQL 17 does not report search_path changes to the pooler: that needs "
        "PostgreSQL 18 or newer (or Citus)."
    ]
